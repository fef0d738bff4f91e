package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var tableRows = []BindingRow{
	{TAP: "tap10", File: "/b/tap10", Active: true, Ifindex: 7, Attach: "tcx", MAC: "aa:6b:39:22:33:44",
		IP: "192.0.2.100", Subnet6: "2001:db8:aaaa:bbbb::/64", Hostname: "testing-vm"},
	{TAP: "tap11", File: "/b/tap11", MAC: "02:00:00:00:00:11", Hostname: "vm11", Waiting: "no link tap11"},
	{TAP: "tap12", File: "/b/tap12", Error: "tap12:3: IP: bad"},
	{TAP: "tap13", File: "/b/tap13", Active: true, Ifindex: 12, MAC: "02:00:00:00:00:13", Hostname: "vm13", Error: "tap13:1: MAC: bad"},
}

func TestWriteTable(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, tableRows, false); err != nil {
		t.Fatal(err)
	}
	want := `TAP    STATE     IFINDEX  ATTACH  MAC                IP           IPV6 PREFIX              HOSTNAME    WHY
tap10  active    7        tcx     aa:6b:39:22:33:44  192.0.2.100  2001:db8:aaaa:bbbb::/64  testing-vm  -
tap11  waiting   -        -       02:00:00:00:00:11  -            -                        vm11        no link tap11
tap12  rejected  -        -       -                  -            -                        -           tap12:3: IP: bad
tap13  active    12       -       02:00:00:00:00:13  -            -                        vm13        last version rejected, previous in force: tap13:1: MAC: bad
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	if err := WriteTable(&out, tableRows, true); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("JSON table is not one line:\n%s", out.String())
	}
	var got struct{ Bindings []BindingRow }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tableRows, got.Bindings); d != "" {
		t.Errorf("JSON table (-want +got):\n%s", d)
	}
}

// A file's name and errors stay on its one row: a name that is not plain
// text is quoted, and joined errors are separated by "; ".
func TestWriteTableOneRowPerFile(t *testing.T) {
	var out bytes.Buffer
	rows := []BindingRow{{TAP: "tap\x1b[2J\n1", File: "/b/tap\x1b[2J\n1",
		Error: `"/b/tap\x1b[2J\n1": MAC: required` + "\n" + `"/b/tap\x1b[2J\n1": HOSTNAME: required`}}
	if err := WriteTable(&out, rows, false); err != nil {
		t.Fatal(err)
	}
	want := `TAP              STATE     IFINDEX  ATTACH  MAC  IP  IPV6 PREFIX  HOSTNAME  WHY
"tap\x1b[2J\n1"  rejected  -        -       -    -   -            -         "/b/tap\x1b[2J\n1": MAC: required; "/b/tap\x1b[2J\n1": HOSTNAME: required
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

// writes counts the calls to Write.
type writes struct{ n int }

func (w *writes) Write(p []byte) (int, error) { w.n++; return len(p), nil }

// The table goes to the log's writer, which log lines share: written in
// pieces, a line logged meanwhile would land inside a row.
func TestWriteTableInOneWrite(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		var w writes
		if err := WriteTable(&w, tableRows, asJSON); err != nil {
			t.Fatal(err)
		}
		if w.n != 1 {
			t.Errorf("JSON %v: %d writes, want 1", asJSON, w.n)
		}
	}
}
