#!/bin/bash
# Build the Debian packages from a copy of the work tree, check them with
# lintian, and (with --fresh) install them with apt in a fresh Debian root
# and mount a repository through mount(8) there.
#   tools/debian-check.sh [OUTDIR]          build + lintian (OUTDIR: build-deb)
#   tools/debian-check.sh --fresh           all of it in ../shared/tools/fresh-debian
#   tools/debian-check.sh --inside          (what --fresh runs in the root)
# Ends with one line "debian: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
src=$PWD
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }
summary() { echo "debian: $passed passed, $failed failed"; [ "$failed" = 0 ]; }

# dpkg-buildpackage writes beside the source tree: build in a scratch copy
# of the tracked and untracked (not ignored) files, the .debs land in $1.
build() {
	local out=$1 tmp log
	tmp=$(mktemp -d /tmp/chronofs-deb.XXXXXX)
	log=$out/build.log
	mkdir -p "$tmp/chronofs" "$out"
	rm -f "$out"/*.deb
	git -C "$src" ls-files -z -co --exclude-standard |
		(cd "$src" && xargs -0 cp --parents -t "$tmp/chronofs")
	if (cd "$tmp/chronofs" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
		mv "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes "$out"/
		ok "dpkg-buildpackage -us -uc -b: $(cd "$out" && echo *.deb)"
	else
		tail -30 "$log"
		bad "dpkg-buildpackage (log: $log)"
	fi
	rm -rf "$tmp"
	local want
	for want in chronofs libchronofs0 libchronofs-dev python3-chronofs; do
		ls "$out"/${want}_*.deb >/dev/null 2>&1 || bad "no $want package"
	done
}

# lintian: no errors (E:) allowed; warnings are printed.
check_lintian() {
	local out=$1 report
	report=$(lintian --fail-on none "$out"/*.changes 2>&1)
	[ -n "$report" ] && printf '%s\n' "$report"
	if grep -q '^E: ' <<<"$report"; then
		bad "lintian reports errors"
	else
		ok "lintian: no errors ($(grep -c '^W: ' <<<"$report") warnings)"
	fi
}

# In the fresh root: install the .debs with apt, read the man pages, mount a
# repository with mount -t fuse.chronofs and through an fstab line.
install_and_mount() {
	local out=$1 repo=/srv/data.git mnt=/mnt/data pid
	apt-get install -y -qq --no-install-recommends man-db bash-completion "$out"/*.deb >/dev/null 2>&1 &&
		ok "apt-get install ./*.deb" || { bad "apt-get install ./*.deb"; return; }
	man chronofs 2>/dev/null | grep -q "fuse.chronofs" && ok "man chronofs" || bad "man chronofs"
	man 3 libchronofs 2>/dev/null | grep -q "chronofs_open" && ok "man 3 libchronofs" ||
		bad "man 3 libchronofs"
	bash -c 'source /usr/share/bash-completion/bash_completion &&
		__load_completion chronofsctl &&
		complete -p chronofsctl | grep -q _chronofsctl' >/dev/null 2>&1 &&
		ok "bash completion of chronofsctl" || bad "bash completion of chronofsctl"
	rm -rf "$repo" && mkdir -p "$mnt"
	chronofsctl init "$repo" >/dev/null && ok "chronofsctl init" || bad "chronofsctl init"
	# The packaged binding finds the packaged library by its soname.
	python3 -c 'import sys, chronofs
with chronofs.ChronoFS(sys.argv[1]) as db:
    db.put("main", "cfg/app.json", {"theme": "dark"})' "$repo" &&
		ok "python3-chronofs put" || bad "python3-chronofs put"
	if mount -t fuse.chronofs "$repo" "$mnt" -o fsync=on &&
		grep -q '"theme": "dark"' "$mnt/main/cfg/app.json"; then
		ok "mount -t fuse.chronofs, read a document"
	else
		bad "mount -t fuse.chronofs"
	fi
	echo '{"n": 1}' >"$mnt/main/cfg/new.json" && ok "save through the mount" ||
		bad "save through the mount"
	unmount "$mnt"
	echo "$repo $mnt fuse.chronofs _netdev,nofail,fsync=on 0 0" >>/etc/fstab
	if mount "$mnt" && grep -q '"n": 1' "$mnt/main/cfg/new.json" &&
		grep -q " $mnt fuse.chronofs " /proc/mounts; then
		ok "fstab line: mount $mnt"
	else
		bad "fstab line: mount $mnt"
	fi
	unmount "$mnt"
	[ "$(git --git-dir="$repo" show main:cfg/new.json)" = '{"n": 1}' ] &&
		ok "the save is a commit" || bad "the save is a commit"
}

unmount() { # and wait for the daemon, found by its command line
	local p pid=
	for p in /proc/[0-9]*; do
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "^chronofs [^ ]* $1 " &&
			pid=${p#/proc/}
	done
	umount "$1" || { bad "umount $1"; return; }
	for _ in $(seq 100); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && bad "daemon $pid still running" ||
		ok "umount $1"
}

case ${1:-} in
--fresh)
	git diff --quiet HEAD || echo "debian-check: uncommitted changes are not in the fresh root's clone" >&2
	# A root of our own: fresh-debian removes the one it is given.
	FRESH_ROOT=${FRESH_ROOT:-/tmp/chronofs-deb-root} \
		../shared/tools/fresh-debian 'bash tools/debian-check.sh --inside'
	;;
--inside)
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends git dpkg-dev debhelper dh-python \
		lintian >/dev/null
	apt-get build-dep -y -qq ./ >/dev/null && ok "apt-get build-dep ./" ||
		bad "apt-get build-dep ./"
	build /tmp/debs
	check_lintian /tmp/debs
	install_and_mount /tmp/debs
	summary
	;;
-*)
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
*)
	bash tools/deps.sh deb || exit 1
	out=$(realpath -m "${1:-build-deb}")
	build "$out"
	check_lintian "$out"
	summary
	;;
esac
