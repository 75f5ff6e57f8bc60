package def

import "testing"

func TestColumnRef(t *testing.T) {
	d := &Definitions{
		FeatureViews: []*FeatureView{
			{Name: "a", Features: []Feature{{Name: "b__c"}, {Name: "x"}}},
			{Name: "d__e", Features: []Feature{{Name: "f"}}},
		},
		OnDemandViews: []*OnDemandFeatureView{{Name: "od", Features: []Feature{{Name: "g"}}}},
	}
	ix := NewIndex(d)
	for col, want := range map[string]string{
		"a__x":    "a:x",
		"a__b__c": "a:b__c",
		"d__e__f": "d__e:f",
		"od__g":   "od:g",
		"a__y":    "",
		"a__":     "",
		"ax":      "",
		"e__f":    "",
	} {
		r, ok := ix.ColumnRef(col)
		got := ""
		if ok {
			got = r.String()
			if r.Column() != col {
				t.Errorf("ColumnRef(%q) = %s, whose column is %q", col, got, r.Column())
			}
		}
		if got != want {
			t.Errorf("ColumnRef(%q) = %q, want %q", col, got, want)
		}
	}
}
