package bench

import "testing"

func TestPendingRing(t *testing.T) {
	r := newPendingRing(2)
	for i, at := range []int64{10, 20, 30} { // the third grows the ring
		r.Push(uint32(i+1), at)
	}
	if r.Len() != 3 {
		t.Fatalf("Len = %d, want 3", r.Len())
	}
	// Out of order: 2 is answered first and stays behind 1.
	if at, ok := r.Answer(2, true); !ok || at != 20 {
		t.Fatalf("Answer(2) = %d, %v; want 20, true", at, ok)
	}
	if r.Len() != 3 {
		t.Fatalf("Len after an answer behind the head = %d, want 3", r.Len())
	}
	if _, ok := r.Answer(2, true); ok {
		t.Fatal("Answer(2) twice: want false")
	}
	// 1 expires, and 2 (answered) goes with it.
	if _, ok := r.Expire(10); ok {
		t.Fatal("Expire(10): 1 was sent at 10, not before: want false")
	}
	if at, ok := r.Expire(11); !ok || at != 10 {
		t.Fatalf("Expire(11) = %d, %v; want 10, true", at, ok)
	}
	if r.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (only 3 left)", r.Len())
	}
	// Without transaction ids the oldest open one answers.
	r.Push(4, 40)
	if at, ok := r.Answer(0, false); !ok || at != 30 {
		t.Fatalf("Answer(any) = %d, %v; want 30, true", at, ok)
	}
	if at, ok := r.Answer(0, false); !ok || at != 40 || r.Len() != 0 {
		t.Fatalf("Answer(any) = %d, %v, Len %d; want 40, true, 0", at, ok, r.Len())
	}
	if _, ok := r.Expire(1 << 62); ok {
		t.Fatal("Expire on an empty ring: want false")
	}
}
