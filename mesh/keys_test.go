package mesh

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestKeysRoundTrip(t *testing.T) {
	k, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalIdentity(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, id, err := UnmarshalIdentity(b)
	if err != nil || !k.Equals(k2) || id.Validate() != nil {
		t.Fatalf("identity round trip: %v", err)
	}
	if _, _, err := UnmarshalIdentity([]byte("junk")); err == nil {
		t.Fatal("junk identity accepted")
	}
	psk, err := GeneratePSK()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodePSK(psk)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePSK(bytes.NewReader(enc))
	if err != nil || !bytes.Equal(got, psk) {
		t.Fatalf("psk round trip: %v", err)
	}
	for _, bad := range []string{"", "/key/swarm/psk/1.0.0/\n/base16/\nzz\n", "/key/swarm/psk/1.0.0/\n/base16/\nabcd\n"} {
		if _, err := DecodePSK(strings.NewReader(bad)); !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("bad key %q: %v", bad, err)
		}
	}
}
