package loader

import "testing"

func TestRateLimitUnmarshalText(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    RateLimit
		wantErr string
	}{
		{in: "200/s burst 50", want: RateLimit{200, 50}},
		{in: "  200/s   burst   50 ", want: RateLimit{200, 50}},
		{in: "200/s", want: RateLimit{200, 50}},
		{in: "200", want: RateLimit{200, 50}},
		{in: "3/s", want: RateLimit{3, 1}},
		{in: "1/s burst 1", want: RateLimit{1, 1}},
		{in: "1000000000/s burst 1000000", want: RateLimit{1_000_000_000, 1_000_000}},
		{in: "0", want: RateLimit{}},
		{in: "off", want: RateLimit{}},
		{in: "", wantErr: `"": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{in: "0/s", wantErr: `"0/s": rate 0/s is outside 1-1000000000/s (0 alone turns the limit off)`},
		{in: "0 burst 5", wantErr: `"0 burst 5": rate 0/s is outside 1-1000000000/s (0 alone turns the limit off)`},
		{in: "1000000001/s", wantErr: `"1000000001/s": rate 1000000001/s is outside 1-1000000000/s (0 alone turns the limit off)`},
		{in: "200/m", wantErr: `"200/m": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{in: "200/s burst", wantErr: `"200/s burst": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{in: "200/s bust 5", wantErr: `"200/s bust 5": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{in: "200/s burst 0", wantErr: `"200/s burst 0": burst 0 is outside 1-1000000`},
		{in: "200/s burst 1000001", wantErr: `"200/s burst 1000001": burst 1000001 is outside 1-1000000`},
		{in: "200/s burst -1", wantErr: `"200/s burst -1": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{in: "0x10/s", wantErr: `"0x10/s": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
		{in: "200/s burst 50 extra", wantErr: `"200/s burst 50 extra": want RATE/s [burst N] (e.g. 200/s burst 50), or 0 for no limit`},
	} {
		var got RateLimit
		err := got.UnmarshalText([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("UnmarshalText(%q) = %+v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("UnmarshalText(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if back, _ := got.MarshalText(); tt.in == "200/s burst 50" && string(back) != tt.in {
			t.Errorf("MarshalText = %q, want %q", back, tt.in)
		}
	}
	if s := DefaultRateLimit.String(); s != "200/s burst 50" {
		t.Errorf("default = %q", s)
	}
	if s := (RateLimit{}).String(); s != "off" {
		t.Errorf("zero = %q", s)
	}
}
