package encoding

import (
	"testing"

	"github.com/fstore/fstore/compute"
	"github.com/fstore/fstore/featurestore/def"
)

// Benchmarks of the online read path's codec: building a key and decoding
// a 50-feature value with window tiles.
//
//	go test ./featurestore/encoding -run '^$' -bench . -count 6 | benchstat -

func BenchmarkAppendKey(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendInt64(AppendKeyPrefix(buf[:0], TagEntity, 42), 123456789)
	}
}

// fiftyFeaturesLayout is a layout of 50 DOUBLE features and two
// aggregations.
func fiftyFeaturesLayout() *Layout {
	l := &Layout{SchemaVersion: 1}
	for i := 0; i < 50; i++ {
		l.Features = append(l.Features, def.Double)
	}
	l.Aggs = []AggLayout{{Func: def.Sum, In: def.Double}, {Func: def.Count}}
	return l
}

func fiftyFeatures() (*Layout, []byte) {
	l := fiftyFeaturesLayout()
	v := &Value{HasRow: true, EventTS: 1, Created: 2}
	for i := range l.Features {
		v.Features = append(v.Features, Scalar{F: float64(i)})
	}
	for range l.Aggs {
		var tiles compute.Tiles
		for k := 0; k < 12; k++ {
			tiles = append(tiles, compute.Tile{K: int64(k), Acc: compute.Acc{N: 3, F: 1.5}})
		}
		v.Tiles = append(v.Tiles, tiles)
	}
	return l, l.Append(nil, v)
}

func BenchmarkDecodeValue(b *testing.B) {
	l, data := fiftyFeatures()
	var v Value
	l.Decode(data, &v)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := l.Decode(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendValue(b *testing.B) {
	l, data := fiftyFeatures()
	var v Value
	l.Decode(data, &v)
	buf := make([]byte, 0, len(data))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		buf = l.Append(buf[:0], &v)
	}
}
