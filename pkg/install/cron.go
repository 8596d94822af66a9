package install

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a Schedule from a five-field cron expression (minute hour
// day-of-month month day-of-week), in local time. Fields take *, N, A-B,
// lists (A,B) and steps (*/N, A-B/N); day-of-week 0 and 7 are Sunday. As in
// cron, when both day fields are restricted a day matching either is due.
type Cron struct {
	spec                  string
	min, hour, dom, month []bool
	dow                   []bool
	domStar, dowStar      bool
}

// ParseCron parses a five-field cron expression.
func ParseCron(spec string) (*Cron, error) {
	f := strings.Fields(spec)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", spec, len(f))
	}
	c := &Cron{spec: spec, domStar: f[2] == "*", dowStar: f[4] == "*"}
	var err error
	for _, p := range []struct {
		dst      *[]bool
		field    string
		lo, hi   int
		fieldNam string
	}{
		{&c.min, f[0], 0, 59, "minute"}, {&c.hour, f[1], 0, 23, "hour"}, {&c.dom, f[2], 1, 31, "day of month"},
		{&c.month, f[3], 1, 12, "month"}, {&c.dow, f[4], 0, 7, "day of week"},
	} {
		if *p.dst, err = cronField(p.field, p.lo, p.hi); err != nil {
			return nil, fmt.Errorf("cron %q: %s: %w", spec, p.fieldNam, err)
		}
	}
	if c.dow[7] {
		c.dow[0] = true
	}
	return c, nil
}

func (c *Cron) String() string { return c.spec }

func cronField(s string, lo, hi int) ([]bool, error) {
	set := make([]bool, hi+1)
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad step %q", stepS)
			}
			step = n
		}
		a, b := lo, hi
		if rng != "*" {
			as, bs, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = strconv.Atoi(as); err != nil {
				return nil, fmt.Errorf("bad value %q", as)
			}
			b = a
			if isRange {
				if b, err = strconv.Atoi(bs); err != nil {
					return nil, fmt.Errorf("bad value %q", bs)
				}
			} else if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return nil, fmt.Errorf("%q is out of range %d-%d", part, lo, hi)
		}
		for i := a; i <= b; i += step {
			set[i] = true
		}
	}
	return set, nil
}

// Next returns the first minute after t the expression matches (or t plus
// five years when it matches none, e.g. February 30th).
func (c *Cron) Next(t time.Time) time.Time {
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		if !c.month[int(t.Month())] {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
			continue
		}
		if !c.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
			continue
		}
		if !c.hour[t.Hour()] {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, t.Location())
			continue
		}
		if !c.min[t.Minute()] {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return limit
}

func (c *Cron) dayMatches(t time.Time) bool {
	dom, dow := c.dom[t.Day()], c.dow[int(t.Weekday())]
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	default:
		return dom || dow
	}
}
