#!/usr/bin/env bash
# check.sh DIST VERSION — installs and runs what `make dist` built, as a
# station's IT staff would, and reports which parts ran:
#   lintian  both .debs, no errors allowed
#   chroot   the amd64 .deb installed with dpkg into a throw-away Debian
#            root (mmdebstrap minbase, cached); version, doc check, config
#            example, setup of a production folder, then an upgrade to a
#            higher version and a removal that must leave the data alone
#   qemu     the arm64 binary under qemu-user: version, doc check, devices list
#   wine     the Windows .exe: version, doc check, config example; the
#            installer silently, the installed .exe, the uninstaller
#            (data folder kept)
# A part whose tool is missing is skipped with a message; a part that runs
# and fails makes the script fail. Needs root for the chroot part.
# Every command run in the root, under qemu or under wine is killed after
# CHECK_TIMEOUT seconds (default 120) and reported as hung, so a hang fails
# the check instead of stopping it.
set -uo pipefail
dist=$1 version=$2
here=$(cd "$(dirname "$0")" && pwd)
deb64=$dist/stationdesk_${version}_amd64.deb
debarm=$dist/stationdesk_${version}_arm64.deb
exe=$dist/stationdesk-${version}-windows-amd64.exe
setup=$dist/stationdesk-${version}-windows-amd64-setup.exe
cache=${XDG_CACHE_HOME:-$HOME/.cache}/stationdesk-dist
work=$(mktemp -d /tmp/stationdesk-dist-check.XXXXXX)
declare -A result took
failed=0
CAP=${CHECK_TIMEOUT:-120}
# capped CMD... runs CMD killed after $CAP seconds (exit 137).
capped() { timeout -s KILL "$CAP" "$@"; }
trap 'rm -rf "$work"' EXIT

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; failed=$((failed + 1)); }
# expect NAME WANT-EXIT CMD... runs CMD, shows its output, checks the exit code.
expect() {
	local name=$1 want=$2; shift 2
	local out rc
	local t0=$SECONDS
	out=$("$@" 2>&1); rc=$?
	printf '   $ %s  (%d s)\n%s\n' "$name" $((SECONDS - t0)) "$(printf '%s\n' "$out" | head -n 8 | sed 's/^/     /')"
	if [ "$rc" = 137 ] && [ $((SECONDS - t0)) -ge "$CAP" ]; then fail "$name: no answer within $CAP s, killed (hung)"; return 1; fi
	if [ "$rc" != "$want" ]; then fail "$name: exit $rc, want $want"; return 1; fi
	LAST=$out
}
# The document number every part checks: a valid resident ID with its check digit.
ID=11010519491231002X

for f in "$deb64" "$debarm" "$exe" "$setup" "$dist/SHA256SUMS"; do
	[ -f "$f" ] || { echo "dist-check: $f is missing: dist/ holds another build; run make dist (for version $version)" >&2; exit 2; }
done
sha256sum -c --quiet <(cd "$dist" && cat SHA256SUMS | sed "s#  #  $dist/#") || fail "SHA256SUMS does not match"

# ---- lintian ----
if command -v lintian >/dev/null; then
	say "lintian"
	ok=1 t0=$SECONDS
	for d in "$deb64" "$debarm"; do
		lintian --fail-on error --no-tag-display-limit "$d" > "$work/lintian.txt" 2>&1 || ok=0
		printf '   %s: %s errors, %s warnings\n' "$(basename "$d")" "$(grep -c '^E:' "$work/lintian.txt")" "$(grep -c '^W:' "$work/lintian.txt")"
		grep -E '^(E|W):' "$work/lintian.txt" | sed 's/^/     /'
	done
	took[lintian]=$((SECONDS - t0))
	[ $ok = 1 ] && result[lintian]=passed || { result[lintian]=FAILED; fail "lintian reported errors"; }
else
	result[lintian]="skipped (lintian not installed)"
fi

# ---- chroot: install, set up, upgrade, remove ----
chroot_part() {
	local f0=$failed base=$cache/bookworm-amd64.tar r=$work/root
	if [ ! -f "$base" ]; then
		command -v mmdebstrap >/dev/null || { result[chroot]="skipped (mmdebstrap not installed)"; return; }
		say "making the throw-away Debian root (once; cached in $base)"
		mkdir -p "$cache"
		if ! mmdebstrap --quiet --variant=minbase --format=tar \
			--include=adduser,libgl1,libx11-6,libxcursor1,libxrandr2,libxinerama1,libxi6,libxxf86vm1 \
			bookworm "$cache/bookworm-amd64.partial.tar" >"$work/mmdebstrap.log" 2>&1; then
			tail -5 "$work/mmdebstrap.log"
			result[chroot]="skipped (mmdebstrap could not reach a Debian mirror)"; rm -f "$cache/bookworm-amd64.partial.tar"; return
		fi
		mv "$cache/bookworm-amd64.partial.tar" "$base"
	fi
	[ "$(id -u)" = 0 ] || { result[chroot]="skipped (needs root for chroot)"; return; }
	say "chroot: dpkg -i $(basename "$deb64")"
	mkdir -p "$r" && tar -C "$r" -xf "$base" || { fail "unpack $base"; return; }
	inr() { capped chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
	cp "$deb64" "$r/tmp/new.deb"
	expect "dpkg -i" 0 inr dpkg -i /tmp/new.deb || return
	expect "stationdesk version" 0 inr stationdesk version || return
	grep -q "\"version\":\"$version\"" <<<"$LAST" || fail "chroot: version is not $version"
	expect "stationdesk doc check --type cn-id $ID" 0 inr stationdesk doc check --type cn-id $ID || return
	expect "stationdesk doc check (bad check digit)" 1 inr stationdesk doc check --type cn-id 110105194912310021
	expect "stationdesk config example" 0 inr stationdesk config example
	expect "getent passwd stationdesk" 0 inr getent passwd stationdesk
	expect "the unit, udev rule, desktop entry, conffiles" 0 inr sh -c 'ls -l /lib/systemd/system/stationdesk-serve.service /lib/udev/rules.d/70-stationdesk-readers.rules /usr/share/applications/cn.bjsubway.stationdesk.desktop /etc/stationdesk/ && dpkg-query -W -f="\${Conffiles}\n" stationdesk'
	expect "no data folder made by the package" 1 inr test -e /var/lib/stationdesk
	if inr stationdesk setup --help >/dev/null 2>&1; then
		inr adduser --quiet --disabled-password --gecos "" clerk >/dev/null
		expect "stationdesk setup (PIN twice on stdin)" 0 inr sh -c 'printf "735194\n735194\n" | stationdesk setup --station-id BJ-0101 --central https://central.example.invalid --supervisor S001 --name "Supervisor" --user clerk --data /var/lib/stationdesk-desk --config /etc/stationdesk/stationdesk.toml' || return
		expect "setup again refuses the existing folder" 1 inr sh -c 'printf "735194\n735194\n" | stationdesk setup --station-id BJ-0101 --central https://central.example.invalid --supervisor S001 --user clerk --data /var/lib/stationdesk-desk --config /etc/stationdesk/stationdesk.toml'
	else
		echo "   (this build has no setup command: a hand-made data folder stands in)"
		inr sh -c 'mkdir -m 0700 /var/lib/stationdesk-desk && echo evidence > /var/lib/stationdesk-desk/ledger.db'
	fi
	# The service's folder as systemd would make it, with data in it.
	inr sh -c 'install -d -m 0700 -o stationdesk -g stationdesk /var/lib/stationdesk && echo cache > /var/lib/stationdesk/gate.db && chown stationdesk: /var/lib/stationdesk/gate.db'
	inr sh -c 'echo "# edited by the station" >> /etc/stationdesk/serve.toml'
	local before; before=$(inr sh -c 'cd /var/lib && find stationdesk stationdesk-desk -exec stat -c "%n %a %U %s %Y" {} + | sort; find stationdesk stationdesk-desk -type f -exec sha256sum {} + | sort')

	say "chroot: upgrade to a higher version over it"
	local up=$work/up r2=$work/upd
	mkdir -p "$r2" && dpkg-deb -R "$deb64" "$r2" && sed -i "s/^Version: .*/Version: ${version}.1/" "$r2/DEBIAN/control" &&
		dpkg-deb --root-owner-group -Zxz --build "$r2" "$r/tmp/up.deb" >/dev/null || { fail "repack"; return; }
	expect "dpkg -i (version ${version}.1)" 0 inr dpkg --force-confold -i /tmp/up.deb || return
	local after; after=$(inr sh -c 'cd /var/lib && find stationdesk stationdesk-desk -exec stat -c "%n %a %U %s %Y" {} + | sort; find stationdesk stationdesk-desk -type f -exec sha256sum {} + | sort')
	[ "$before" = "$after" ] && echo "   data folders unchanged by the upgrade" || fail "the upgrade changed a data folder"
	inr grep -q "edited by the station" /etc/stationdesk/serve.toml && echo "   edited conffile kept" || fail "the upgrade replaced an edited conffile"
	if inr stationdesk setup --help >/dev/null 2>&1; then
		expect "the new binary on the old folder: setup --upgrade" 0 inr stationdesk setup --upgrade --data /var/lib/stationdesk-desk --config /etc/stationdesk/stationdesk.toml
	fi

	say "chroot: remove and purge"
	expect "dpkg --purge" 0 inr dpkg --purge stationdesk
	inr test -f /var/lib/stationdesk/gate.db && inr test -d /var/lib/stationdesk-desk && echo "   data folders kept after purge" || fail "purge removed a data folder"
	[ $failed = $f0 ] && result[chroot]=passed || result[chroot]=FAILED
}
if command -v dpkg >/dev/null && command -v chroot >/dev/null; then t0=$SECONDS; chroot_part; took[chroot]=$((SECONDS - t0)); else result[chroot]="skipped (no dpkg/chroot)"; fi
[ -n "${result[chroot]:-}" ] || result[chroot]=FAILED

# ---- qemu: the arm64 binary ----
# The binary is cgo (GL/X11), so it needs an arm64 loader, libc and the GL/X11
# libraries. They come from Debian multiarch (libc6:arm64, libgl1:arm64, …,
# pulled in by the :arm64 -dev packages `make dist` installs), found at the
# same paths as on a real arm64 Debian: qemu-aarch64 runs without -L. Never
# with "-L /usr/aarch64-linux-gnu": that takes the loader from the cross
# sysroot (libc6-arm64-cross, another glibc build) while the loader, through
# the host's ld.so.cache, still loads libc.so.6 from multiarch, and a loader
# and libc of two different builds spin for ever in the first
# pthread_create — which every cgo Go program does at start.
aload=/lib/ld-linux-aarch64.so.1
if command -v qemu-aarch64 >/dev/null && [ -e "$aload" ]; then
	say "qemu-aarch64: the arm64 binary"
	f0=$failed t0=$SECONDS
	dpkg-deb -x "$debarm" "$work/arm64"
	abin=$work/arm64/usr/bin/stationdesk
	q() { capped env -u DISPLAY -u WAYLAND_DISPLAY -u QEMU_LD_PREFIX qemu-aarch64 "$abin" "$@"; }
	expect "file" 0 file -b "$abin"
	if expect "libraries (arm64 loader --list)" 0 capped env -u QEMU_LD_PREFIX qemu-aarch64 "$aload" --list "$abin" && grep -q 'not found' <<<"$LAST"; then
		fail "qemu: arm64 libraries missing (install libgl1:arm64 libx11-6:arm64 …, or run make dist-deps)"
	fi
	expect "stationdesk version" 0 q version && { grep -q '"os":"linux/arm64"' <<<"$LAST" || fail "qemu: not linux/arm64"; }
	expect "stationdesk doc check --type cn-id $ID" 0 q doc check --type cn-id $ID
	expect "stationdesk doc check (bad check digit)" 1 q doc check --type cn-id 110105194912310021
	expect "stationdesk devices list" 0 q devices list
	took[qemu]=$((SECONDS - t0))
	[ $failed = $f0 ] && result[qemu]=passed || result[qemu]=FAILED
else
	result[qemu]="skipped (qemu-user, or the arm64 loader $aload from libc6:arm64, not installed)"
fi

# ---- wine: the Windows binary and installer ----
if command -v wine >/dev/null; then
	say "wine: the Windows binary"
	f0=$failed t0=$SECONDS
	export WINEPREFIX=$work/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
	expect "wineboot --init (a fresh prefix)" 0 capped env -u DISPLAY wineboot --init
	sys32=$WINEPREFIX/drive_c/windows/system32
	if [ ! -e "$sys32/bcryptprimitives.dll" ] && [ ! -e /usr/lib/x86_64-linux-gnu/wine/x86_64-windows/bcryptprimitives.dll ]; then
		# Wine < 9 lacks the DLL the Go runtime needs; see the source.
		expect "bcryptprimitives.dll stand-in for this Wine" 0 x86_64-w64-mingw32-gcc -O2 -shared -o "$sys32/bcryptprimitives.dll" \
			"$here/wine/bcryptprimitives.c" "$here/wine/bcryptprimitives.def" -ladvapi32
	fi
	w() { capped env -u DISPLAY wine "$@" 2>&1 | tr -d '\r' | grep -v '^it looks like wine32\|^multiarch needs\|^execute "dpkg\|^apt-get install wine32'; return "${PIPESTATUS[0]}"; }
	expect "stationdesk.exe version" 0 w "$exe" version && { grep -q '"os":"windows/amd64"' <<<"$LAST" || fail "wine: not windows/amd64"; }
	expect "stationdesk.exe doc check --type cn-id $ID" 0 w "$exe" doc check --type cn-id $ID
	expect "stationdesk.exe config example" 0 w "$exe" config example
	if [ -f "$setup" ]; then
		say "wine: the installer, silently"
		expect "setup.exe /S" 0 w "$setup" /S
		pf="$WINEPREFIX/drive_c/Program Files/StationDesk" pd="$WINEPREFIX/drive_c/ProgramData/StationDesk"
		expect "installed files" 0 ls "$pf"
		expect "Start-menu entries" 0 ls "$WINEPREFIX/drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs/StationDesk"
		expect "data folder" 0 test -d "$pd"
		expect "installed stationdesk.exe version" 0 w "C:\\Program Files\\StationDesk\\stationdesk.exe" version
		echo evidence > "$pd/ledger.db"
		expect "uninstall.exe /S" 0 w "C:\\Program Files\\StationDesk\\uninstall.exe" /S
		# The uninstaller copies itself to %TEMP% and runs from there; wait for it.
		for _ in $(seq 1 50); do [ -e "$pf/stationdesk.exe" ] || break; sleep 0.2; done
		[ ! -e "$pf/stationdesk.exe" ] && echo "   program removed" || fail "uninstall left the program"
		[ -f "$pd/ledger.db" ] && echo "   data folder kept" || fail "uninstall removed the data folder"
	fi
	env -u DISPLAY wineserver -k 2>/dev/null
	took[wine]=$((SECONDS - t0))
	[ $failed = $f0 ] && result[wine]=passed || result[wine]=FAILED
else
	result[wine]="skipped (wine not installed)"
fi

say "dist-check summary ($version)"
for k in lintian chroot qemu wine; do
	printf '   %-8s %-40s %s\n' "$k" "${result[$k]}" "${took[$k]:+${took[$k]} s}"
done
say "sizes"
(cd "$dist" && for f in *.deb *.exe; do printf '   %-60s %6.1f MB\n' "$f" "$(stat -c %s "$f" | awk '{print $1/1e6}')"; done)
[ $failed = 0 ]
