#!/usr/bin/env bash
# mkdeb.sh ARCH BINARY VERSION OUT.deb — builds the StationDesk .deb from a
# built binary and the packaging sources beside this script. Run from the
# repository's top folder (the Makefile does). Needs dpkg-deb, gzip and the
# objdump of the target (binutils or its cross variant) to read which glibc
# symbol versions the binary needs.
set -euo pipefail
arch=$1 bin=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

case $arch in
amd64) objdump=objdump ;;
arm64) objdump=aarch64-linux-gnu-objdump ;;
*) echo "mkdeb: unknown architecture $arch" >&2; exit 2 ;;
esac
command -v "$objdump" >/dev/null || objdump=objdump

# Reproducible: every file time is the commit's (or now without git).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
umask 022
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

install -D -m 0755 "$bin" "$root/usr/bin/stationdesk"
install -D -m 0644 "$here/linux/cn.bjsubway.stationdesk.desktop" "$root/usr/share/applications/cn.bjsubway.stationdesk.desktop"
install -D -m 0644 "$top/assets/icons/Icon.png" "$root/usr/share/icons/hicolor/512x512/apps/cn.bjsubway.stationdesk.png"
install -D -m 0644 "$here/linux/stationdesk-serve.service" "$root/lib/systemd/system/stationdesk-serve.service"
install -D -m 0644 "$here/linux/70-stationdesk-readers.rules" "$root/lib/udev/rules.d/70-stationdesk-readers.rules"
install -D -m 0644 "$top/assets/config/stationdesk.example.toml" "$root/etc/stationdesk/stationdesk.toml"
install -D -m 0644 "$top/offline/verify/serve.example.toml" "$root/etc/stationdesk/serve.toml"
install -d -m 0755 "$root/usr/share/doc/stationdesk"
# copyright: ours, then the font licence's stand-alone paragraph as Debian
# ships it (the NOTICE file is that package's copyright file).
{ cat "$here/debian/copyright"; echo
  awk '/^License: SIL-1.1$/ && prev == "" {p=1} p && /^License:/ && !/SIL-1.1/ {exit} p {print} {prev=$0}' "$top/assets/fonts/NOTICE-noto-cjk.txt"
} > "$root/usr/share/doc/stationdesk/copyright"
chmod 0644 "$root/usr/share/doc/stationdesk/copyright"
install -d -m 0755 "$root/usr/share/man/man1"
gzip -9n < "$here/linux/stationdesk.1" > "$root/usr/share/man/man1/stationdesk.1.gz"

# A native package's changelog: one entry for this build.
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
rev=$(git -C "$top" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
printf 'stationdesk (%s) stable; urgency=medium\n\n  * Build of commit %s.\n\n -- StationDesk maintainers <stationdesk@example.invalid>  %s\n' \
	"$version" "$rev" "$date" | gzip -9n > "$root/usr/share/doc/stationdesk/changelog.gz"
chmod 0644 "$root/usr/share/doc/stationdesk/changelog.gz" "$root/usr/share/man/man1/stationdesk.1.gz"

# The oldest glibc the binary can run on: the newest symbol version it uses.
glibc=$("$objdump" -T "$root/usr/bin/stationdesk" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
[ -n "$glibc" ] || { echo "mkdeb: no glibc symbol versions in $bin" >&2; exit 1; }

install -d -m 0755 "$root/DEBIAN"
size=$(du -sk --apparent-size "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@GLIBC@/$glibc/" \
	"$here/debian/control.in" > "$root/DEBIAN/control"
install -m 0644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 "$here/debian/postinst" "$here/debian/prerm" "$here/debian/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out: $(du -h "$out" | cut -f1), needs glibc >= $glibc"
