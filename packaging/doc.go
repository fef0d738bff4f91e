// Package packaging holds no Go code: build-deb.sh builds the Debian package
// from the binary, the man pages and contrib/, and the tests install it into
// a scratch root.
package packaging
