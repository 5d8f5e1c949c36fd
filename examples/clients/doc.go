// Package clients shows dialguard under the clients people use.
package clients
