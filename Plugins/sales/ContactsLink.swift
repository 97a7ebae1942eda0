import CRMPluginKit
import ContactsContract
import ContactsLinkKit

extension ContactsLink {
    /// A person a sales record may hold (0: none), as requireLivePerson.
    static func requirePerson(_ ctx: CallContext, _ id: Int64, field: String) throws {
        guard id != 0 else { return }
        try requireLivePerson(ctx, id, field: field)
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
