package regions

import "testing"

func TestNames(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(Country("DE"), "Germany")
	f(Country("us"), "United States")
	f(Country("XX"), "XX")
	f(Country(""), "")
	f(Country("Germany"), "Germany")
	f(Subdivision("DE-BY"), "Bayern, Germany")
	f(Subdivision("US-CA"), "California, United States")
	f(Subdivision("ZZ-99"), "ZZ-99")
	f(Subdivision("DE"), "DE")
}
