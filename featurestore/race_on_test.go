//go:build race

package featurestore_test

const raceEnabled = true
