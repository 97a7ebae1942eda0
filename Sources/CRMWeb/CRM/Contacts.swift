import ContactsContract
import CRMRPCContract
import CRMWire

/// The contacts methods the console calls, each acting for a web user.
struct ContactsAPI: Sendable {
    let gateway: CRMGateway
    private static let service = "/crm.contacts.v1.Contacts/"

    func search(_ query: String, pageSize: Int32 = 20, for user: String) async throws -> Crm_Contacts_V1_ListPeopleResponse {
        try await gateway.call(Self.service + "SearchPeople",
                               Crm_Contacts_V1_SearchPeopleRequest.with { $0.query = query; $0.pageSize = pageSize },
                               for: user, retryable: true)
    }

    func person(_ id: Int64, for user: String) async throws -> Crm_Contacts_V1_Person {
        try await gateway.call(Self.service + "GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id },
                               for: user, retryable: true)
    }

    func organization(_ id: Int64, for user: String) async throws -> Crm_Contacts_V1_Organization {
        try await gateway.call(Self.service + "GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = id },
                               for: user, retryable: true)
    }

    func timeline(person id: Int64, pageSize: Int32, pageToken: String, for user: String) async throws
        -> Crm_Contacts_V1_ListTimelineResponse {
        try await gateway.call(Self.service + "ListTimeline", Crm_Contacts_V1_ListTimelineRequest.with {
            $0.personID = id
            $0.pageSize = pageSize
            $0.pageToken = pageToken
        }, for: user, retryable: true)
    }

    /// The person custom fields defined; none when the user may not list them.
    func personFields(for user: String) async throws -> [Crm_Contacts_V1_CustomFieldDefinition] {
        do {
            let answer: Crm_Contacts_V1_ListCustomFieldsResponse = try await gateway.call(
                Self.service + "ListCustomFields", Crm_Contacts_V1_ListCustomFieldsRequest.with { $0.entity = .person },
                for: user, retryable: true)
            return answer.definitions
        } catch let error as RPCError where error.code == .permissionDenied {
            return []
        }
    }

    func update(_ request: Crm_Contacts_V1_UpdatePersonRequest, for user: String) async throws -> Crm_Contacts_V1_Person {
        try await gateway.call(Self.service + "UpdatePerson", request, for: user)
    }
}
