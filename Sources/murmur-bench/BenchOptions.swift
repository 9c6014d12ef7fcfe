/// The value after a whole-number option (`--runs 5`) in a suite's arguments: advances `i` past
/// it, or prints why it is not acceptable and returns nil (the suite then exits with status 2).
func wholeNumberOption(_ args: [String], _ i: inout Int, suite: String, range: ClosedRange<Int>) -> Int? {
    let flag = args[i]
    i += 1
    guard i < args.count, let v = Int(args[i]), range.contains(v) else {
        print("murmur-bench \(suite): \(flag) needs a whole number in \(range.lowerBound)...\(range.upperBound)")
        return nil
    }
    return v
}
