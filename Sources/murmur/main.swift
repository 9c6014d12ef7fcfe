#if canImport(Glibc)
import Glibc
#endif
import MurmurCore

/// Every subcommand. Add yours here (one line) and put it in `Commands/<Name>.swift`.
let commands: [Command] = [
    conformanceCommand,
    inferCommand,
    inspectCommand,
    keygenCommand,
    nodeCommand,
    pingCommand,
    demoCommand,
    simCommand,
    traceCommand,
    statusCommand,
    publishCommand,
    submitCommand,
    verifyCommand,
]

@MainActor func topLevelHelp() -> String {
    var s = "murmur \(MurmurVersion.software): a peer-to-peer mesh for verifiable AI inference\n\n"
    s += "usage: murmur <command> [options]   (murmur <command> --help for details)\n\ncommands:\n"
    for c in commands { s += "  \(c.name + String(repeating: " ", count: max(1, 12 - c.name.count))) \(c.summary)\n" }
    return s
}

let argv = Array(CommandLine.arguments.dropFirst())
guard let name = argv.first else {
    printError(topLevelHelp())
    exit(2)
}
if name == "--help" || name == "-h" || name == "help" {
    print(topLevelHelp(), terminator: "")
    exit(0)
}
if name == "--version" {
    print("murmur \(MurmurVersion.software) (protocol \(MurmurVersion.protocolVersion))")
    exit(0)
}
guard let command = commands.first(where: { $0.name == name }) else {
    printError("murmur: unknown command '\(name)' (see murmur --help)")
    exit(2)
}
let rest = Array(argv.dropFirst())
if rest.contains("--help") || rest.contains("-h") {
    print(command.usage)
    exit(0)
}
do {
    exit(try command.run(rest))
} catch let e as UsageError {
    printError("murmur \(e.message)")
    exit(2)
} catch let e as CommandFailure {
    printError("murmur: \(e.message)")
    exit(1)
} catch {
    printError("murmur: \(error)")
    exit(1)
}
