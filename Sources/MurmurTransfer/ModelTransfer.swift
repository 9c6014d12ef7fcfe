import MurmurCore
import MurmurWire

/// Fetcher and server together, as the node hosts them: one protocol owning message types
/// 0x60–0x6F. Raw messages are decoded here and routed (requests and cancels to the server,
/// pieces and refusals to the fetcher); a model whose fetch completes is served at once.
public struct ModelTransfer: Sendable {
    public var fetcher: Fetcher
    public var server: Server
    /// Manifests of active fetches, to serve each model once it completes.
    var manifests: [Hash: ModelManifest] = [:]
    public private(set) var undecodable = 0
    public private(set) var unknownTypes = 0

    public init(fetcher: FetcherConfig = FetcherConfig(), server: ServerConfig = ServerConfig(), rng: SeededRNG, storedBytes: UInt64 = 0) {
        self.fetcher = Fetcher(config: fetcher, rng: rng, storedBytes: storedBytes)
        self.server = Server(config: server)
    }

    public enum Event: Sendable, Equatable {
        case fetch(FetchEvent)
        case serve(ServeEvent)
        /// A message of a type in `TransferMessageType.range` from an authenticated peer.
        case message(from: NodeID, type: UInt8, payload: [UInt8])
        case linkUp(NodeID)
        case linkDown(NodeID)
    }

    public enum Effect: Sendable, Equatable {
        case fetch(FetchEffect)
        case serve(ServeEffect)
    }

    public mutating func handle(_ event: Event, now: Instant) -> [Effect] {
        switch event {
        case let .fetch(e):
            if case let .start(manifest, _) = e, manifests.count < Limits.maxConcurrentFetches { manifests[manifest.modelHash] = manifest }
            return afterFetch(fetcher.handle(e, now: now), now: now)
        case let .serve(e): return server.handle(e, now: now).map { .serve($0) }
        case let .linkUp(peer): return afterFetch(fetcher.handle(.linkUp(peer), now: now), now: now)
        case let .linkDown(peer):
            return server.handle(.linkDown(peer), now: now).map { .serve($0) } + afterFetch(fetcher.handle(.linkDown(peer), now: now), now: now)
        case let .message(peer, type, payload):
            let message: TransferMessage
            do throws(DecodeError) {
                message = try TransferMessage(type: type, payload: payload)
            } catch {
                switch type {
                case TransferMessageType.piece, TransferMessageType.refusal:
                    undecodable += 1
                    return afterFetch(fetcher.handle(.malformed(from: peer, error), now: now), now: now)
                case TransferMessageType.request, TransferMessageType.cancel:
                    undecodable += 1   // cannot even be refused without a request id
                default:
                    unknownTypes += 1  // a newer peer's message: ignored, not held against it
                }
                return []
            }
            switch message {
            case .request, .cancel: return server.handle(.message(from: peer, message), now: now).map { .serve($0) }
            case .piece, .refusal: return afterFetch(fetcher.handle(.message(from: peer, message), now: now), now: now)
            }
        }
    }

    /// Serves completed models; forgets manifests of fetches that ended.
    mutating func afterFetch(_ fx: [FetchEffect], now: Instant) -> [Effect] {
        var out: [Effect] = fx.map { .fetch($0) }
        for e in fx {
            switch e {
            case let .completed(model):
                if let m = manifests.removeValue(forKey: model) { out += server.handle(.serve(m), now: now).map { .serve($0) } }
            case let .failed(model, _): manifests[model] = nil
            case let .refused(model, reason) where reason != .alreadyFetching: manifests[model] = nil
            default: break
            }
        }
        return out
    }
}
