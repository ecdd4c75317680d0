"""A document renamed to a scratch name and not re-created is committed as deleted.

The daemon commits that deletion when the scratch name is unlinked, or 2 s
after the rename if the document was not re-created, or at unmount.
"""

import os
import time

from harness import ChronofsTestCase, read_file


class RenameAwayTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        self.save("x.json", b'{"keep": "me"}')
        self.save("other.json", b"{}")
        self.before = self.commit_count()

    def test_renamed_away_document_is_deleted_after_delay(self):
        os.rename(self.doc("x.json"), self.doc("x.json.bak"))
        time.sleep(4)
        self.assertEqual(self.tree(), ["other.json"])
        self.assertEqual(self.commit_count(), self.before + 1)
        self.assertEqual(read_file(self.doc("x.json.bak")), b'{"keep": "me"}')
        self.assertFalse(os.path.exists(self.doc("x.json")))
        self.assertTreeHoldsOnlyDocuments()

    def test_renamed_away_document_is_deleted_when_scratch_unlinked(self):
        os.rename(self.doc("x.json"), self.doc("x.json~"))
        os.unlink(self.doc("x.json~"))
        self.wait_until(lambda: self.tree() == ["other.json"], timeout=1.0, msg="deletion commit at unlink")
        self.assertEqual(self.commit_count(), self.before + 1)
        time.sleep(3)
        self.assertEqual(self.commit_count(), self.before + 1)

    def test_renamed_away_document_is_deleted_at_unmount(self):
        os.rename(self.doc("x.json"), self.doc("x.json.bak"))
        self.unmount()
        self.assertEqual(self.tree(), ["other.json"])
        self.assertEqual(self.commit_count(), self.before + 1)
        self.mount()
        self.assertEqual(read_file(self.doc("x.json.bak")), b'{"keep": "me"}')
        self.assertFalse(os.path.exists(self.doc("x.json")))
