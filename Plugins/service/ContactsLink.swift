import CRMPluginKit
import ContactsContract
import SwiftProtobuf

/// In-process calls to the contacts module, for the caller (their
/// contacts permissions and scope apply). With `parent: ctx` a call from a
/// writing handler joins its transaction.
enum ContactsLink {
    static let service = "/crm.contacts.v1.Contacts/"

    static func call<Response: Message>(_ ctx: CallContext, _ method: String, _ request: some Message) throws -> Response {
        let bytes = try ctx.host.invoke(service + method, request: try request.serializedBytes(), parent: ctx)
        return try Response(serializedBytes: bytes)
    }

    static func person(_ ctx: CallContext, _ id: Int64) throws -> Person? {
        do {
            return try call(ctx, "GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            return nil
        }
    }

    static func organization(_ ctx: CallContext, _ id: Int64) throws -> Organization? {
        do {
            return try call(ctx, "GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            return nil
        }
    }

    /// A requester a ticket may name: NOT_FOUND if contacts has no such
    /// person (or the caller may not read them), FAILED_PRECONDITION if
    /// they were deleted, merged (naming the survivor) or erased.
    static func requirePerson(_ ctx: CallContext, _ id: Int64, field: String) throws -> Person {
        try Validate.positiveID(id, field)
        guard let person = try person(ctx, id) else { throw PluginError.notFound("\(field): person \(id) does not exist") }
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) was erased") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): person \(id) was merged into person \(person.mergedIntoID)")
        }
        if person.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) is deleted") }
        return person
    }

    static func requireOrganization(_ ctx: CallContext, _ id: Int64, field: String) throws {
        guard id != 0 else { return }
        guard id > 0, let organization = try organization(ctx, id) else {
            throw PluginError.notFound("\(field): organization \(id) does not exist")
        }
        if organization.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): organization \(id) is deleted") }
    }
}
