package gatebench

import "testing"

func TestQuartiles(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want [5]float64
	}{
		{[]float64{9, 1, 8, 2, 7, 3, 6, 4, 5}, [5]float64{1, 3, 5, 7, 9}},
		{[]float64{70}, [5]float64{70, 70, 70, 70, 70}},
		{[]float64{90, 80}, [5]float64{80, 80, 90, 90, 90}},
	} {
		if got := quartiles(append([]float64(nil), c.in...)); got != c.want {
			t.Errorf("quartiles(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
