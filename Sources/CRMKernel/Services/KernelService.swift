import CRMWire
import NIOCore
import SwiftProtobuf

/// One of the kernel's own services: it lists its methods, and
/// `KernelServices` adds them to the router. The methods answer from state
/// that is fixed after start-up, so unary ones run on the event loop.
protocol KernelService {
    var methods: [KernelMethod] { get }
}

extension KernelMethod {
    /// A unary method that decodes its request, runs `body` and serializes the answer.
    static func unary<Req: Message, Resp: Message>(
        _ service: String, _ method: String, _ req: Req.Type, _ resp: Resp.Type,
        _ body: @escaping @Sendable (Req) throws -> Resp
    ) -> KernelMethod {
        KernelMethod(
            fullName: "/\(service)/\(method)", service: service,
            requestType: Req.protoMessageName, responseType: Resp.protoMessageName, serverStreaming: false,
            unary: { payload in try body(decodeRequest(Req.self, payload)).serializedBytes() })
    }

}

/// The request in `payload`, or INVALID_ARGUMENT naming the type it should have been.
func decodeRequest<Req: Message>(_ type: Req.Type, _ payload: ByteBuffer) throws -> Req {
    do { return try Req(buffer: payload) } catch {
        throw RPCError(.invalidArgument, "request does not decode as \(Req.protoMessageName)")
    }
}
