import MurmurHTTP

/// An error answered to an API client: `{"error": {"code": code, "message": message}}` with a
/// 4xx status. Codes are stable identifiers (Specs/api.md, "Errors"); messages say what to do.
public struct APIError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: HTTPStatus
    public var code: String
    public var message: String

    public init(_ status: HTTPStatus, _ code: String, _ message: String) {
        self.status = status; self.code = code; self.message = message
    }

    public var response: HTTPResponse { HTTPResponse.error(status, code: code, message: message) }
    public var description: String { "\(status.code) \(code): \(message)" }

    public static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    public static func unprocessable(_ code: String, _ message: String) -> APIError { APIError(.unprocessableContent, code, message) }
}
