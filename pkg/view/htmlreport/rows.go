package htmlreport

import (
	"math"
	"slices"
)

// waitRows places the waits of a lane on rows, each on the first row where
// it covers no wait placed before: the lane's rows of waits. A long call
// has thousands of waits and, when their labels are wider than the gaps
// between them, thousands of rows, so the first row that fits is found in
// logarithmic time whenever the waits come left to right, as a lane's do:
// then every extent placed so far starts no later than the new one, and
// a row fits exactly when all its extents end by the new one's start.
// Otherwise every row is checked, as before.
type waitRows struct {
	rows [][]box
	// end is the rightmost end of each row's extents.
	end []float64
	// tree is a segment tree over end: tree[1] is the least of them,
	// leaves from len(tree)/2 on, +Inf where there is no row yet.
	tree []float64
	// maxStart is the rightmost start placed so far.
	maxStart float64
	// ordered stays true while every extent placed started at or after
	// the ones before it and no coordinate was NaN.
	ordered bool
}

// place puts e on the first row where it overlaps nothing, opening a new
// row if none has room, and returns the row.
func (r *waitRows) place(e box) int {
	if len(r.rows) == 0 {
		r.ordered = true
		r.maxStart = math.Inf(-1)
	}
	if math.IsNaN(e.x1) || math.IsNaN(e.x2) || math.IsNaN(e.y1) || math.IsNaN(e.y2) || !(e.x1 < e.x2) || e.y1 != 0 || e.y2 != 1 {
		r.ordered = false
	}
	row := len(r.rows)
	if r.ordered && e.x1 >= r.maxStart {
		// Every extent p placed has p.x1 <= e.x1 < e.x2 and the same
		// rows of the figure, so it overlaps e exactly when e.x1 < p.x2.
		row = r.firstEndingBy(e.x1)
	} else {
		r.ordered = false
		for i, placed := range r.rows {
			if !overlapsAny(e, placed) {
				row = i
				break
			}
		}
	}
	if row == len(r.rows) {
		r.rows = append(r.rows, nil)
		r.end = append(r.end, math.Inf(-1))
	}
	r.rows[row] = append(r.rows[row], e)
	r.end[row] = max(r.end[row], e.x2)
	r.maxStart = max(r.maxStart, e.x1)
	if r.ordered {
		r.set(row)
	}
	return row
}

// firstEndingBy returns the first row whose extents all end by x, or
// len(r.rows) if there is none.
func (r *waitRows) firstEndingBy(x float64) int {
	if len(r.tree) == 0 || r.tree[1] > x {
		return len(r.rows)
	}
	n, leaves := 1, len(r.tree)/2
	for n < leaves {
		if r.tree[2*n] <= x {
			n = 2 * n
		} else {
			n = 2*n + 1
		}
	}
	return n - leaves
}

// set updates the tree for row's end, growing the tree when row is new.
func (r *waitRows) set(row int) {
	leaves := len(r.tree) / 2
	if row >= leaves {
		leaves = max(2*leaves, 64)
		r.tree = slices.Repeat([]float64{math.Inf(1)}, 2*leaves)
		copy(r.tree[leaves:], r.end)
		for n := leaves - 1; n >= 1; n-- {
			r.tree[n] = min(r.tree[2*n], r.tree[2*n+1])
		}
		return
	}
	n := leaves + row
	r.tree[n] = r.end[row]
	for n /= 2; n >= 1; n /= 2 {
		r.tree[n] = min(r.tree[2*n], r.tree[2*n+1])
	}
}
