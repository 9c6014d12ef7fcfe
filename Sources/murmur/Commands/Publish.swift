#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MurmurCore
import MurmurNode

let publishCommand = Command(
    name: "publish",
    summary: "publish an ONNX model through a running node (stored, signed, gossiped, announced)",
    usage: """
    usage: murmur publish MODEL.onnx [--name NAME] [--node HOST:PORT] [--timeout SECONDS]

    Asks a running node (`murmur node --api HOST:PORT`) to load MODEL.onnx with its own engine
    (refusing a model it cannot run, with the reason), store it under DATA/models/<hash>, sign a
    ModelManifest (hash, name, size, chunk hashes, inputs and outputs) and gossip it; the node's
    NodeAnnouncement then lists the model. Prints "model HASH name NAME size BYTES chunks N".

      --name NAME          the model's name in the manifest (default: the file name without .onnx)
      --node HOST:PORT     the node's control address (default 127.0.0.1:7001)
      --timeout SECONDS    give up after this long (default 120)
    """,
    run: runPublish
)

@Sendable func runPublish(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, command: "publish", booleans: [], valued: ["--name", "--node", "--timeout"])
    guard args.positionals.count == 1, let file = args.positionals.first else { throw UsageError("publish: expected one MODEL.onnx argument") }
    let address = try parseAddress(args.value("--node") ?? "127.0.0.1:7001", option: "--node", command: "publish")
    let timeout = try args.double("--timeout", default: 120, range: 0.1...3600)
    guard access(file, R_OK) == 0 else { throw CommandFailure("publish: cannot read \(file): \(String(cString: strerror(errno)))") }
    let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
    var body: [String: Any] = ["path": absolute]
    if let name = args.value("--name") { body["name"] = name }
    let data = try JSONSerialization.data(withJSONObject: body)
    let response = try controlCall(address, method: "POST", path: "/v1/models", body: Array(data), timeout: timeout, command: "publish")
    guard response.status == 201, let o = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
        throw CommandFailure("publish: the node refused the model: \(errorMessage(response.body))")
    }
    writeLine("model \(o["model_hash"] as? String ?? "?") name \(o["name"] as? String ?? "?") size \(o["size"] as? Int ?? 0) chunks \(o["chunks"] as? Int ?? 0)")
    return 0
}

/// One control-endpoint request with a CLI-grade error.
func controlCall(_ address: SocketAddress, method: String, path: String, body: [UInt8] = [], timeout: Double,
                 command: String) throws -> (status: Int, body: [UInt8]) {
    do {
        return try ControlClient.request(address, method: method, path: path, body: body, timeout: .seconds(timeout))
    } catch {
        throw CommandFailure("\(command): \(address): \(error) (is the node running with --api \(address)?)")
    }
}

/// The `message` of an API error body, or the body itself.
func errorMessage(_ body: [UInt8]) -> String {
    if let o = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] {
        if let e = o["error"] as? [String: Any], let m = e["message"] as? String { return m }
        if let m = o["error"] as? String { return m }
    }
    return String(decoding: body.prefix(500), as: UTF8.self)
}
