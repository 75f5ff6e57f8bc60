package serve

import "time"

// maxFastTime bounds the times appendTime formats itself: from the epoch
// to the end of year 9999, where the year has four digits.
const maxFastTime = 253_402_300_800_000_000 // 10000-01-01T00:00:00Z in µs

// appendTime appends us (microseconds since the epoch) as a quoted
// RFC 3339 time in UTC, with the fraction's trailing zeros dropped: the
// bytes of time.UnixMicro(us).UTC().AppendFormat(b, time.RFC3339Nano),
// which TestAppendTimeDifferential compares them with. Every entity's
// event time of every view goes through it, and formatting through time
// costs four times as many instructions (its general layout machinery);
// times before 1970 or after 9999 still do.
func appendTime(b []byte, us int64) []byte {
	if us < 0 || us >= maxFastTime {
		b = append(b, '"')
		b = time.UnixMicro(us).UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	secs, frac := uint64(us)/1e6, uint32(uint64(us)%1e6)
	y, m, d := civilDate(secs / 86400)
	sod := uint32(secs % 86400)
	hh, mm, ss := sod/3600, sod/60%60, sod%60
	yh, yl := 2*(y/100), 2*(y%100)
	b = append(b, '"',
		digitPairs[yh], digitPairs[yh+1], digitPairs[yl], digitPairs[yl+1], '-',
		digitPairs[2*m], digitPairs[2*m+1], '-',
		digitPairs[2*d], digitPairs[2*d+1], 'T',
		digitPairs[2*hh], digitPairs[2*hh+1], ':',
		digitPairs[2*mm], digitPairs[2*mm+1], ':',
		digitPairs[2*ss], digitPairs[2*ss+1])
	if frac != 0 {
		// RFC3339Nano's nine digits less their trailing zeros: of a
		// microsecond time, at most six.
		p0, p1, p2 := 2*(frac/10000), 2*(frac/100%100), 2*(frac%100)
		b = append(b, '.',
			digitPairs[p0], digitPairs[p0+1],
			digitPairs[p1], digitPairs[p1+1],
			digitPairs[p2], digitPairs[p2+1])
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return append(b, 'Z', '"')
}

// civilDate returns the proleptic Gregorian date of the day days after
// 1970-01-01 (H. Hinnant's civil_from_days, over unsigned days: the
// fast path of appendTime has no earlier dates).
func civilDate(days uint64) (year, month, day uint32) {
	z := days + 719_468 // days since 0000-03-01
	era := z / 146_097
	doe := z - era*146_097                                   // [0, 146096]
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)                 // [0, 365], from March 1st
	mp := (5*doy + 2) / 153                                  // [0, 11], March = 0
	day = uint32(doy - (153*mp+2)/5 + 1)
	year = uint32(yoe + era*400)
	if mp < 10 {
		month = uint32(mp + 3)
	} else {
		month = uint32(mp - 9)
		year++
	}
	return year, month, day
}
