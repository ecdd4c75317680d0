#!/bin/bash
# The quick start: install, build, make a demo repository with sample
# documents, mount it, save a document (one commit), and show the branch
# listing and the log. Leaves the demo mounted at $DEMO/mnt (default
# /tmp/chronofs-demo); `fusermount3 -u /tmp/chronofs-demo/mnt` ends it.
set -eu
cd "$(dirname "$0")/.."
bash tools/deps.sh
bash tools/build.sh build
DEMO=${DEMO:-/tmp/chronofs-demo}
CTL=build/tools/chronofsctl
mountpoint -q "$DEMO/mnt" 2>/dev/null && fusermount3 -u "$DEMO/mnt"
rm -rf "$DEMO" && mkdir -p "$DEMO/mnt"
$CTL init "$DEMO/repo.git"
build/fs/chronofs "$DEMO/repo.git" "$DEMO/mnt" -o fsync=off
M=$DEMO/mnt
show() { echo; echo "\$ $*"; eval "$@"; }

mkdir -p "$M/main/users" "$M/main/cfg"
echo '{"name": "alice", "age": 34}' > "$M/main/users/alice.json"
echo '{"name": "bob", "age": 27}' > "$M/main/users/bob.json"
echo '{"theme": "dark"}' > "$M/main/cfg/app.json"
show ls "$M"
show ls -l "$M/main" "$M/main/users"
show cat "$M/main/users/alice.json"
first=$(git --git-dir="$DEMO/repo.git" rev-parse --short=7 main)
show "sed -i 's/34/35/' $M/main/users/alice.json"
show cat "$M/main/users/alice.json"
show cat "$M/main@$first/users/alice.json"
show ls "$M/main@history/users/alice.json/"
show ls "$M/main/users/@by/-age/"
show git --git-dir="$DEMO/repo.git" log --oneline -n 3
show git --git-dir="$DEMO/repo.git" show main:users/alice.json
show "echo '{\"broken\": ' > $M/main/cfg/app.json || true"
show cat "$M/main/cfg/app.json"
show $CTL log "$DEMO/repo.git" main
echo
echo "The demo stays mounted at $M; unmount with: fusermount3 -u $M"
