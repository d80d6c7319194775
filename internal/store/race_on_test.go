//go:build race

package store_test

// raceDetector is true in a -race build: property tests then run fewer cases (the race
// run is there to catch data races, which a few cases exercise as well as many; the
// plain run explores the properties).
const raceDetector = true
