// Command gen writes the ride-hailing example's definitions and Parquet data.
//
//	go run ./examples/rides/gen -out examples/rides
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fstore/fstore/examples/rides"
)

func main() {
	out := flag.String("out", "examples/rides", "directory to write definitions.textproto and data/ into")
	drivers := flag.Int("drivers", 0, "number of drivers (default 500)")
	riders := flag.Int("riders", 0, "number of riders (default 2000)")
	days := flag.Int("days", 0, "days of history (default 7)")
	seed := flag.Uint64("seed", 0, "random seed (default 1)")
	flag.Parse()
	st, err := rides.Write(*out, rides.Config{Drivers: *drivers, Riders: *riders, Days: *days, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %d driver_stats, %d trips, %d riders, %d spine rows\n", *out, st.DriverStats, st.Trips, st.Riders, st.Requests)
}
