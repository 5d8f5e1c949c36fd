package fleet_test

import (
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/dialguard/dialguard/dialer"
	"github.com/dialguard/dialguard/fleet"
)

// A Dialer whose breakers the fleet shares. (Not run: it needs a Redis.)
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "redis.internal:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	share, err := fleet.New(client, fleet.WithPrefix("payments"))
	if err != nil {
		log.Fatal(err)
	}
	defer share.Close()
	d, err := dialer.New(share.Option())
	if err != nil {
		log.Fatal(err)
	}
	_ = d // use d.DialContext as any dial function
}
