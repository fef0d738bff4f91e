#!/usr/bin/env bash
# Build nfdhcpd_<version>_<arch>.deb with dpkg-deb: no network, no debhelper.
#   packaging/build-deb.sh BINARY VERSION OUTDIR
# BINARY is a static nfdhcpd (make build); VERSION a Debian version.
set -euo pipefail
bin=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
arch=$(dpkg --print-architecture)

case $version in
[0-9]*) ;;
*) echo "build-deb: version $version does not start with a digit" >&2; exit 1 ;;
esac
command -v scdoc >/dev/null || { echo "build-deb: scdoc is not installed (apt-get install scdoc)" >&2; exit 1; }

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
umask 022

put() { # put MODE SRC DST
	install -D -m "$1" "$2" "$stage$3"
}
put 0755 "$bin" /usr/sbin/nfdhcpd
# The original's sample configuration, with the package's own user instead
# of nobody (sysusers.conf).
install -d -m 0755 "$stage/etc/nfdhcpd"
sed 's/^user = nobody /user = nfdhcpd /' "$top/config/testdata/nfdhcpd.conf" >"$stage/etc/nfdhcpd/nfdhcpd.conf"
grep -q '^user = nfdhcpd ' "$stage/etc/nfdhcpd/nfdhcpd.conf" || { echo "build-deb: the sample has no 'user = nobody' line" >&2; exit 1; }
chmod 0644 "$stage/etc/nfdhcpd/nfdhcpd.conf"
put 0644 "$here/default" /etc/default/nfdhcpd
put 0644 "$top/contrib/logrotate/nfdhcpd" /etc/logrotate.d/nfdhcpd
put 0644 "$top/contrib/systemd/nfdhcpd.service" /usr/lib/systemd/system/nfdhcpd.service
put 0644 "$here/tmpfiles.conf" /usr/lib/tmpfiles.d/nfdhcpd.conf
put 0644 "$here/sysusers.conf" /usr/lib/sysusers.d/nfdhcpd.conf
put 0644 "$here/modules-load.conf" /usr/lib/modules-load.d/nfdhcpd.conf
put 0755 "$top/contrib/ganeti/nfdhcpd-vif" /usr/lib/nfdhcpd/nfdhcpd-vif
put 0755 "$top/contrib/iptables/nfdhcpd-ratelimit" /usr/lib/nfdhcpd/nfdhcpd-ratelimit
doc=/usr/share/doc/nfdhcpd
put 0644 "$here/debian/copyright" $doc/copyright
for f in ferm/nfdhcpd.ferm iptables/rules.v4 iptables/rules.v6 nft/nfdhcpd.nft; do
	put 0644 "$top/contrib/$f" "$doc/contrib/$f"
done
gzip -9n <"$top/README.md" >"$stage$doc/README.md.gz"
for page in nfdhcpd.8 nfdhcpd.conf.5; do
	mkdir -p "$stage/usr/share/man/man${page##*.}"
	scdoc <"$top/man/$page.scd" | gzip -9n >"$stage/usr/share/man/man${page##*.}/$page.gz"
done
# The state and log folders; the run folder is tmpfiles.d's and the unit's.
install -d -m 0755 "$stage/var/lib/nfdhcpd" "$stage/var/log/nfdhcpd"

install -d -m 0755 "$stage/DEBIAN"
for f in conffiles postinst prerm postrm; do
	install -m "$([ "$f" = conffiles ] && echo 0644 || echo 0755)" "$here/debian/$f" "$stage/DEBIAN/$f"
done
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$here/debian/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"

mkdir -p "$out"
deb=$out/nfdhcpd_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
