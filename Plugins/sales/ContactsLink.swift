import CRMPluginKit
import ContactsContract
import SwiftProtobuf

/// In-process calls to the contacts module. With `parent: ctx` a call from a
/// writing handler joins its transaction: both commit or neither does.
enum ContactsLink {
    static let service = "/crm.contacts.v1.Contacts/"

    static func call<Response: Message>(_ ctx: CallContext, _ method: String, _ request: some Message) throws -> Response {
        let bytes = try ctx.host.invoke(service + method, request: try request.serializedBytes(), parent: ctx)
        return try Response(serializedBytes: bytes)
    }

    /// The person, or nil if contacts has no such id.
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

    /// A reference to a person that a sales record may hold: NOT_FOUND if
    /// there is no such person, FAILED_PRECONDITION if they were deleted,
    /// merged or erased.
    static func requirePerson(_ ctx: CallContext, _ id: Int64, field: String) throws {
        guard id != 0 else { return }
        guard id > 0, let person = try person(ctx, id) else {
            throw PluginError.notFound("\(field): person \(id) does not exist")
        }
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) was erased") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): person \(id) was merged into person \(person.mergedIntoID)")
        }
        if person.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) is deleted") }
    }

    static func requireOrganization(_ ctx: CallContext, _ id: Int64, field: String) throws {
        guard id != 0 else { return }
        guard id > 0, let organization = try organization(ctx, id) else {
            throw PluginError.notFound("\(field): organization \(id) does not exist")
        }
        if organization.deletedUnixUs != 0 {
            throw PluginError.failedPrecondition("\(field): organization \(id) is deleted")
        }
    }

    static func createOrganization(_ ctx: CallContext, _ organization: Organization, key: String) throws -> Organization {
        try call(ctx, "CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization = organization
            $0.idempotencyKey = key
        })
    }

    static func createPerson(_ ctx: CallContext, _ person: Person, key: String) throws -> Person {
        try call(ctx, "CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
            $0.person = person
            $0.idempotencyKey = key
        })
    }
}
