// Temporary stand-ins until the crypto branch's CryptoBench.swift lands (then this file goes).
func benchSecretstreamMBps() -> Double { .nan }
func benchHandshakesPerSecondAsResponder() -> Double { .nan }
