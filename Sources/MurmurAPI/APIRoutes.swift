import MurmurCore
import MurmurHTTP

/// The API's routes (Specs/api.md). The node's HTTP connection handler calls
/// `APIFrontDoor.route(_:token:)` for every parsed request and either writes the ready response
/// or runs the route's handler with the matched parameters.
public enum APIRoute: String, Sendable, CaseIterable {
    case submitJob, getJob, models, publishModel, peers, status, reputation, metrics, openAPI, trace, debugRecords

    public var method: String {
        switch self {
        case .submitJob, .publishModel, .debugRecords: return "POST"
        default: return "GET"
        }
    }

    /// Routes that take query parameters (the others answer 400 `invalid_query` to any).
    public var takesQuery: Bool { self == .getJob || self == .trace || self == .debugRecords }

    public var pattern: String {
        switch self {
        case .submitJob: return "/v1/jobs"
        case .getJob: return "/v1/jobs/{id}"
        case .models, .publishModel: return "/v1/models"
        case .reputation: return "/v1/reputation"
        case .debugRecords: return "/v1/debug/records"
        case .peers: return "/v1/peers"
        case .status: return "/v1/status"
        case .metrics: return "/metrics"
        case .openAPI: return "/v1/openapi.json"
        case .trace: return "/v1/trace"
        }
    }

    public static let router: Router<APIRoute> = {
        var r = Router<APIRoute>()
        for route in allCases { r.add(route.method, route.pattern, route) }
        return r
    }()
}

/// What to do with a request.
public enum APIDispatch: Sendable, Equatable {
    /// Write this response (errors: 401, 404, 405, 400 for a malformed query; or the OpenAPI document).
    case respond(HTTPResponse)
    /// Run the handler of `route` with the `{name}` path parameters.
    case handle(APIRoute, parameters: [String: String])
}

public enum APIFrontDoor {
    /// Authorization, routing and the answers that need no node state. `token`: the bearer
    /// token required on every route (nil when bound to loopback only; see `requiresToken`).
    public static func route(_ request: HTTPRequest, token: String?) -> APIDispatch {
        if let token, !authorized(request, token: token) {
            var r = APIError(.unauthorized, "unauthorized", "missing or wrong bearer token: send Authorization: Bearer <token from the node's token file>").response
            r.headers.add("WWW-Authenticate", "Bearer realm=\"murmur\"")
            return .respond(r)
        }
        switch APIRoute.router.match(method: request.method, path: request.path) {
        case .notFound:
            return .respond(APIError.notFound("no route \(request.method) \(request.path.prefix(200)); see GET /v1/openapi.json").response)
        case let .methodNotAllowed(allowed):
            var r = APIError(.methodNotAllowed, "method_not_allowed", "\(request.path.prefix(200)) supports \(allowed.joined(separator: ", "))").response
            r.headers.add("Allow", allowed.joined(separator: ", "))
            return .respond(r)
        case let .found(route, parameters, _):
            if route == .openAPI {
                return .respond(HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "application/json")]),
                                             body: Array(OpenAPIDocument.json.utf8)))
            }
            if !route.takesQuery, !request.queryString.isEmpty {
                return .respond(APIError.badRequest("invalid_query", "\(request.path.prefix(200)) takes no query parameters").response)
            }
            return .handle(route, parameters: parameters)
        }
    }

    /// `Authorization: Bearer <token>`, compared in constant time.
    public static func authorized(_ request: HTTPRequest, token: String) -> Bool {
        guard let header = request.headers["authorization"] else { return false }
        let prefix = "Bearer "
        guard header.utf8.count > prefix.utf8.count, header.utf8.prefix(7).map({ ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }) == Array("bearer ".utf8) else { return false }
        let given = Array(header.utf8.dropFirst(prefix.utf8.count))
        let expected = Array(token.utf8)
        var diff = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<expected.count { diff |= expected[i] ^ (i < given.count ? given[i] : 0) }
        return diff == 0
    }

    /// A token is required unless the API is bound only to a loopback address.
    public static func requiresToken(bindHost host: String) -> Bool {
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if h == "localhost" || h == "::1" { return false }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }), parts[0] == "127" { return false }
        return true
    }
}
