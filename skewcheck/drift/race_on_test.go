//go:build race

package drift

// raceEnabled: the race detector slows the power study's 1.2M observations
// tenfold, so under it the study runs a quarter of its trials (the
// published rates come from the full run, POWER.md).
const raceEnabled = true
