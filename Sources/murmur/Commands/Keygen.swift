import MurmurCore
import MurmurCrypto

/// `murmur keygen`: a new node identity, or a new network key for a private mesh.
let keygenCommand = Command(
    name: "keygen",
    summary: "create a node identity (or a private network key)",
    usage: """
    usage: murmur keygen [--out FILE] [--force]
           murmur keygen --network-key FILE [--force]

    Creates a new Ed25519 node identity and writes its 32-byte seed as 64 hex characters to
    FILE (default: ./identity), readable only by you (mode 0600; written to a temporary file,
    fsynced, then moved into place). Prints the node id (the public key, 64 hex characters).

    With --network-key FILE, creates a random 32-byte network key instead (same file format,
    mode 0600) and prints its fingerprint. Nodes started with the same --network-key form a
    private mesh; nodes without one join the public mesh.

    options:
      --out FILE          where to write the identity (default: ./identity)
      --network-key FILE  write a new random network key to FILE instead of an identity
      --force             replace FILE if it already exists
      -h, --help          show this help
    """,
    run: { argv in
        let args = try Arguments(argv, command: "keygen", booleans: ["--force"], valued: ["--out", "--network-key"])
        if let extra = args.positionals.first {
            throw UsageError("keygen: unexpected argument '\(extra)' (see murmur keygen --help)")
        }
        let force = args.has("--force")
        if let networkPath = args.value("--network-key") {
            if args.value("--out") != nil {
                throw UsageError("keygen: use either --out or --network-key, not both")
            }
            guard !networkPath.isEmpty else { throw UsageError("keygen: --network-key needs a file name") }
            let key = NetworkKey.random()
            do {
                try key.save(to: networkPath, replacing: force)
            } catch {
                throw CommandFailure("\(error)")
            }
            printError("wrote network key to \(networkPath) (mode 0600)")
            print("network key fingerprint \(key.fingerprint)")
            return 0
        }
        let path = args.value("--out") ?? "identity"
        guard !path.isEmpty else { throw UsageError("keygen: --out needs a file name") }
        let key = SigningKey()
        do {
            try key.save(to: path, replacing: force)
        } catch {
            throw CommandFailure("\(error)")
        }
        printError("wrote identity to \(path) (mode 0600)")
        print(key.publicKey.hex)
        return 0
    }
)
