import CRMRPCContract
import CRMWire
import Hummingbird

/// A crmd refusal or failure as a page a person can read: never a 500 with a stack.
enum ErrorPage {
    static func response(for error: RPCError, session: WebSession?) -> Response {
        let (status, title, explanation) = describe(error)
        let body = """
            <h1 id="error-title">\(HTML.esc(title))</h1>
            <p id="error-explanation">\(HTML.esc(explanation))</p>
            <p class="detail">crmd: <code id="error-status">\(HTML.esc(error.code.name))</code> \(HTML.esc(error.message))</p>
            <p><a href="/">Back to search</a></p>
            """
        return Responses.html(HTML.page(title: title, session: session, body: body), status: status)
    }

    static func plain(_ status: HTTPResponse.Status, title: String, explanation: String, session: WebSession?) -> Response {
        let body = """
            <h1 id="error-title">\(HTML.esc(title))</h1>
            <p id="error-explanation">\(HTML.esc(explanation))</p>
            <p><a href="/">Back to the start page</a></p>
            """
        return Responses.html(HTML.page(title: title, session: session, body: body), status: status)
    }

    /// The HTTP status as gRPC's HTTP mapping gives it, and words for a person.
    static func describe(_ error: RPCError) -> (HTTPResponse.Status, String, String) {
        switch error.code {
        case .notFound:
            return (.notFound, "Not found", "There is no such record, or it is not one you may see.")
        case .permissionDenied:
            return (.forbidden, "Not allowed", "Your CRM user may not do this. An administrator can change your roles.")
        case .invalidArgument:
            return (.badRequest, "Not accepted", "crmd did not accept the request.")
        case .failedPrecondition:
            return (.badRequest, "Not possible now", "The record's state does not allow this.")
        case .aborted, .alreadyExists:
            return (.conflict, "Changed meanwhile", "Someone else changed this record; reload it and try again.")
        case .unimplemented:
            return (.notImplemented, "Not available", "The module that serves this is not loaded in crmd.")
        case .unavailable:
            return (.serviceUnavailable, "CRM unavailable", "crm-web cannot reach crmd right now; try again shortly.")
        case .deadlineExceeded:
            return (.gatewayTimeout, "Too slow", "crmd did not answer in time; try again.")
        case .resourceExhausted:
            return (.tooManyRequests, "Busy", "crmd is busy; try again shortly.")
        case .unauthenticated:
            return (.unauthorized, "Not signed in", "Sign in again.")
        default:
            return (.badGateway, "Something went wrong", "crmd could not complete the request.")
        }
    }
}
