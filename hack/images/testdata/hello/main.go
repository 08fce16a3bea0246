// Command hello stands in for an IronLB program in the image tests.
package main

import "fmt"

func main() { fmt.Println("hello from a static binary") }
