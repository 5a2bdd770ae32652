package config_test

import (
	"fmt"

	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// A factory whose options are free-form reads them key by key, and points
// its errors at the value concerned.
func Example_freeFormOptions() {
	opts, err := gatehousetest.ParseOptions("{role: admin, tier: {one_of: [gold, silver]}}", nil)
	if err != nil {
		panic(err)
	}
	for _, key := range opts.Keys() {
		var value any
		if err := opts.At(key).Decode(&value); err != nil {
			panic(err)
		}
		fmt.Printf("%s = %v (at %s)\n", key, value, opts.PosAt(key))
	}
	fmt.Println("second tier:", opts.PosAt("tier", "one_of", "1"))
	fmt.Println("absent:", opts.At("scope").IsZero())
	// Output:
	// role = admin (at gateway.yaml:1:17)
	// tier = map[one_of:[gold silver]] (at gateway.yaml:1:30)
	// second tier: gateway.yaml:1:46
	// absent: true
}
