import MurmurAPI
import MurmurCore
import MurmurCrypto
import MurmurGossip
import MurmurHTTP
import MurmurWire

/// The node's API (Specs/api.md, Specs/api.yaml): an `APIServer` on the node's loop whose
/// requests go through `APIFrontDoor` (bearer token for clients off loopback, routing, 404/405,
/// the OpenAPI document) and then to the route handlers here, which read the node's state on the
/// loop thread. `traceHub` streams live trace events (`GET /v1/trace`); plug
/// `traceHub.publish` into `Node.traceSink`.
public final class NodeAPI {
    public let server: APIServer
    public let traceHub: TraceHub
    unowned let node: Node
    unowned let gossip: GossipService
    unowned let jobs: JobsService
    let identity: SigningKey
    let startedAt: Instant
    /// Required from clients that are not on loopback; nil: such clients are refused (403).
    public let token: String?
    private var debugPublished = 0

    public init(node: Node, gossip: GossipService, jobs: JobsService, identity: SigningKey, token: String?) {
        self.node = node
        self.gossip = gossip
        self.jobs = jobs
        self.identity = identity
        self.token = token
        startedAt = node.loop.now
        traceHub = TraceHub(loop: node.loop)
        server = APIServer(loop: node.loop) { _ in }
        server.handler = { [unowned self] exchange in self.handle(exchange) }
    }

    /// Binds the API. Refuses a non-loopback address without a token (the caller creates one).
    @discardableResult
    public func listen(on address: SocketAddress) throws(APIServer.ServerError) -> SocketAddress {
        try server.listen(on: address)
    }

    public func shutdown() {
        traceHub.closeAll()
        server.shutdown()
    }

    // MARK: dispatch

    func handle(_ exchange: APIExchange) {
        let request = exchange.request
        if !exchange.clientIsLoopback && token == nil {
            exchange.respond(APIError(.forbidden, "forbidden", "this node serves its API to loopback clients only").response)
            return
        }
        switch APIFrontDoor.route(request, token: exchange.clientIsLoopback ? nil : token) {
        case let .respond(response):
            exchange.respond(response)
        case let .handle(route, parameters):
            do throws(APIError) {
                try run(route, parameters: parameters, exchange)
            } catch {
                exchange.respond(error.response)
            }
        }
    }

    private func run(_ route: APIRoute, parameters: [String: String], _ exchange: APIExchange) throws(APIError) {
        switch route {
        case .submitJob:
            exchange.respond(try JobRoutes.submit(exchange.request, jobs: jobs))
        case .getJob:
            try JobRoutes.getJob(exchange, idText: parameters["id"] ?? "", jobs: jobs)
        case .models:
            let directory = jobs.jobs.directory
            let nowMs = JobsService.wallNow().unixMs
            exchange.respond(JobRoutes.models(jobs) { hash in
                directory.holders(of: hash).filter { directory.isLive($0, nowMs: nowMs) }.count
            })
        case .publishModel:
            try JobRoutes.publish(exchange, jobs: jobs)
        case .peers:
            exchange.respond(peers())
        case .status:
            exchange.respond(APIViews.status(status()))
        case .reputation:
            exchange.respond(JobRoutes.reputation(jobs))
        case .metrics:
            exchange.respond(metrics().response)
        case .openAPI:
            // Answered by the front door.
            exchange.respond(HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "application/json")]),
                                          body: Array(OpenAPIDocument.json.utf8)))
        case .trace:
            try trace(exchange)
        case .debugRecords:
            try debugRecords(exchange)
        }
    }

    // MARK: trace

    private func trace(_ exchange: APIExchange) throws(APIError) {
        let params: [String: String]
        do throws(QueryString.Failure) { params = try QueryString.parse(exchange.request.queryString) } catch {
            throw .badRequest("invalid_query", "\(error)")
        }
        if let unknown = params.keys.filter({ $0 != "kind" }).sorted().first {
            throw .badRequest("invalid_query", "unknown query parameter \(unknown.prefix(32)); only kind=a,b is supported")
        }
        let filter = try TraceHub.Filter.parse(params["kind"])
        if exchange.request.method == "HEAD" {
            var head = HTTPResponse(status: .ok)
            head.headers.add("Content-Type", "text/event-stream")
            exchange.respond(head)
            return
        }
        guard traceHub.subscribe(exchange, filter: filter, nodeID: node.localID) else {
            throw APIError(.serviceUnavailable, "too_many_subscribers",
                           "at most \(traceHub.maxSubscribers) live trace streams at once; close one and retry")
        }
    }

    // MARK: debug records

    private func debugRecords(_ exchange: APIExchange) throws(APIError) {
        let params: [String: String]
        do throws(QueryString.Failure) { params = try QueryString.parse(exchange.request.queryString) } catch {
            throw .badRequest("invalid_query", "\(error)")
        }
        if let unknown = params.keys.filter({ $0 != "count" }).sorted().first {
            throw .badRequest("invalid_query", "unknown query parameter \(unknown.prefix(32)); only count=N is supported")
        }
        let text = params["count"] ?? "1"
        guard text.utf8.count <= 4, let count = Int(text), (1...DebugRecords.maxCount).contains(count) else {
            throw .badRequest("invalid_count", "count must be an integer in 1…\(DebugRecords.maxCount)")
        }
        var ids: [JSONValue] = []
        for _ in 0..<count {
            debugPublished += 1
            let record: SignedRecord
            do { record = try DebugRecords.testJob(by: identity, index: debugPublished, nowUnixMs: gossip.unixNowMs) } catch {
                throw APIError(.internalServerError, "internal", "could not sign a test record: \(error)")
            }
            node.deliverLocally(NodeDelivery(tag: GossipService.publishTag, payload: record.encoded))
            ids.append(.string(record.id.hex))
        }
        exchange.respond(.json(.ok, ["published": .array(ids)]))
    }

    // MARK: status and peers

    /// `GET /v1/status`: the API's `Status` and the mesh view `murmur status` shows (`MeshStatus`).
    func status() -> MurmurAPI.NodeStatus {
        let m = MeshStatus(node: node, gossip: gossip, startedAt: startedAt, jobs: jobs)
        let ids = { (hex: [String]) in hex.compactMap { Bytes32(hex: $0).map(NodeID.init) } }
        return MurmurAPI.NodeStatus(
            node: node.localID, version: m.version, uptimeSeconds: m.uptime_seconds, addresses: m.addresses,
            peersConnected: m.peers_connected, modelsHeld: m.models_held, freeSlots: m.free_slots, totalSlots: m.total_slots,
            jobsByState: m.jobs, recordsByKind: m.records, excludedNodes: m.excluded_nodes,
            mesh: MeshView(listen: m.listen, activeView: ids(m.active_view), passiveView: ids(m.passive_view),
                           directorySize: m.directory_size, counters: m.counters, linkedPeers: m.linked_peers,
                           eagerPeers: m.eager_peers, localHealth: m.local_health))
    }

    /// `GET /v1/peers`: every peer known from the directory, the views or a link; the views;
    /// the links with their traffic both ways.
    func peers() -> HTTPResponse {
        let g = gossip.gossip
        let active = g?.activeView ?? []
        let passive = g?.passiveView ?? []
        let activeIDs = Set(active.map(\.id)), passiveIDs = Set(passive.map(\.id))
        let linked = Set(node.connectedPeers)
        let announcements = jobs.jobs.directory.announcements
        let nowMs = JobsService.wallNow().unixMs
        var addresses: [NodeID: String] = [:]
        for p in passive { addresses[p.id] = p.address }
        for p in active { addresses[p.id] = p.address }
        var ids = Set(announcements.keys).union(activeIDs).union(passiveIDs).union(linked)
        ids.remove(node.localID)
        let excluded = jobs.jobs.excluded
        let listings: [PeerListing] = ids.sorted().prefix(Limits.maxAPIListItems).map { id in
            let a = announcements[id].flatMap { $0.expiresAt > nowMs ? $0 : nil }
            return PeerListing(node: id, address: a?.body.addresses.first ?? addresses[id] ?? "", connected: linked.contains(id),
                               lastSeen: a?.issuedAt ?? 0, models: a?.body.models ?? [], freeSlots: a.map { Int($0.body.freeSlots) },
                               excluded: excluded.contains(id),
                               view: activeIDs.contains(id) ? "active" : passiveIDs.contains(id) ? "passive" : "none")
        }
        let links = node.transport.linkStats.map { s in
            LinkListing(peer: s.link.peer, link: Int64(clamping: s.link.id.raw), inbound: s.link.direction == .inbound,
                        remoteAddress: s.link.remoteAddress.map { "\($0)" }, bytesIn: s.bytesIn, bytesOut: s.bytesOut,
                        framesIn: s.framesIn, framesOut: s.framesOut, messagesIn: s.messagesIn, messagesOut: s.messagesOut,
                        queuedBytes: s.queuedBytes)
        }
        return APIViews.peers(listings, activeView: active.map { ($0.id, $0.address) }, passiveView: passive.map { ($0.id, $0.address) },
                              links: links)
    }

    // MARK: metrics

    /// `GET /metrics` (Prometheus text 0.0.4; the families of Specs/api.md).
    func metrics() -> PrometheusText {
        var p = PrometheusText()
        let status = MeshStatus(node: node, gossip: gossip, startedAt: startedAt, jobs: jobs)
        p.sample("murmur_uptime_seconds", .gauge, help: "Seconds since the node started.", value: status.uptime_seconds)
        for (kind, n) in status.records.sorted(by: { $0.key < $1.key }) {
            p.sample("murmur_records", .gauge, help: "Records held, by kind.", labels: [("kind", kind)], value: n)
        }
        for (state, n) in status.jobs.sorted(by: { $0.key < $1.key }) {
            p.sample("murmur_jobs", .gauge, help: "Jobs this node tracks, by state.", labels: [("state", state)], value: n)
        }
        for s in node.transport.linkStats {
            let peer = s.link.peer?.hex ?? "unauthenticated"
            let link = "\(s.link.id)"
            p.sample("murmur_link_bytes_total", .counter, help: "Bytes on a live link (ciphertext), by peer and direction.",
                     labels: [("peer", peer), ("link", link), ("direction", "in")], value: s.bytesIn)
            p.sample("murmur_link_bytes_total", .counter, help: "Bytes on a live link (ciphertext), by peer and direction.",
                     labels: [("peer", peer), ("link", link), ("direction", "out")], value: s.bytesOut)
            p.sample("murmur_link_frames_total", .counter, help: "Frames on a live link, by peer and direction.",
                     labels: [("peer", peer), ("link", link), ("direction", "in")], value: s.framesIn)
            p.sample("murmur_link_frames_total", .counter, help: "Frames on a live link, by peer and direction.",
                     labels: [("peer", peer), ("link", link), ("direction", "out")], value: s.framesOut)
        }
        let t = node.transport.counters
        p.sample("murmur_handshake_failures_total", .counter, help: "Handshakes that failed, by reason.",
                 labels: [("reason", "failed")], value: t.handshakeFailures)
        p.sample("murmur_handshake_failures_total", .counter, help: "Handshakes that failed, by reason.",
                 labels: [("reason", "timeout")], value: t.handshakeTimeouts)
        p.sample("murmur_links_established_total", .counter, help: "Links whose handshake completed.", value: t.established)
        p.sample("murmur_peers_connected", .gauge, help: "Authenticated peers with a link.", value: status.linked_peers)
        p.sample("murmur_active_view", .gauge, help: "Peers in the HyParView active view.", value: status.active_view.count)
        p.sample("murmur_passive_view", .gauge, help: "Peers in the HyParView passive view.", value: status.passive_view.count)
        p.sample("murmur_directory_nodes", .gauge, help: "Live nodes known through announcements.", value: status.directory_size)
        for (reason, n) in gossip.counters.recordsRefused.sorted(by: { $0.key < $1.key }) {
            p.sample("murmur_records_refused_total", .counter, help: "Records refused before gossip saw them, by reason.",
                     labels: [("reason", reason)], value: n)
        }
        for (name, n) in gossip.counters.received.sorted(by: { $0.key < $1.key }) {
            p.sample("murmur_gossip_messages_total", .counter, help: "Gossip messages, by type and direction.",
                     labels: [("type", name), ("direction", "in")], value: n)
        }
        for (name, n) in gossip.counters.sent.sorted(by: { $0.key < $1.key }) {
            p.sample("murmur_gossip_messages_total", .counter, help: "Gossip messages, by type and direction.",
                     labels: [("type", name), ("direction", "out")], value: n)
        }
        let c = jobs.counters
        let times = jobs.inferenceTimes
        p.histogram("murmur_inference_seconds", help: "Time of each inference this node ran (on a worker).",
                    bounds: InferenceTimes.bucketBounds, counts: times.buckets, overflow: times.overflow, sum: times.sumSeconds)
        p.sample("murmur_inferences_failed_total", .counter, help: "Inferences that failed.", value: c.inferencesFailed)
        p.sample("murmur_inferences_refused_total", .counter, help: "Inferences refused (queue full).", value: c.inferencesRefused)
        p.sample("murmur_free_slots", .gauge, help: "Inference slots free now.", value: status.free_slots)
        p.sample("murmur_excluded_nodes", .gauge, help: "Proven liars excluded from ranking.", value: status.excluded_nodes)
        let s = server.counters
        p.sample("murmur_api_requests_total", .counter, help: "API requests parsed.", value: s.requests)
        p.sample("murmur_api_connections", .gauge, help: "Open API connections.", value: server.connectionCount)
        p.sample("murmur_api_connections_rejected_total", .counter, help: "API connections refused at the connection limit.", value: s.rejectedLimit)
        p.sample("murmur_api_timeouts_total", .counter, help: "API connections closed by a timeout, by kind.",
                 labels: [("kind", "request")], value: s.requestTimeouts)
        p.sample("murmur_api_timeouts_total", .counter, help: "API connections closed by a timeout, by kind.",
                 labels: [("kind", "idle")], value: s.idleCloses)
        let h = traceHub.counters
        p.sample("murmur_trace_subscribers", .gauge, help: "Live trace streams open.", value: traceHub.subscriberCount)
        p.sample("murmur_trace_events_dropped_total", .counter, help: "Live trace events not sent to a slow subscriber.",
                 value: h.eventsDropped)
        p.sample("murmur_trace_events_sent_total", .counter, help: "Live trace events sent to subscribers.", value: h.eventsSent)
        return p
    }
}
