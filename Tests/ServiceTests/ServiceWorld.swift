import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import ServiceTestClient
import SwiftProtobuf

/// crmd with contacts and service and its people, each CRM user with a
/// client acting for them through this process (crmd's trusted proxy):
///
/// - ana and ben: service_agent (service.* at scope team), kernel team
///   "billing" together, both on service team billing's roster;
/// - cy: service_agent, on team tech's roster; kernel team "shared" with
///   ana, so ana reaches cy's tickets but not tech's unassigned queue;
/// - mia: service_manager (scope all); pat: the custom role service_portal
///   (the web edge: service.portal.* and contacts.person.read at scope all);
/// - `admin` acts for no user: crmd's own uid.
struct ServiceWorld {
    let crmd: CrmdProcess
    let connection: Connection
    let contacts: ContactsClient
    let admin: ServiceClient
    let ana: ServiceClient
    let ben: ServiceClient
    let cy: ServiceClient
    let mia: ServiceClient
    let pat: ServiceClient

    static func start(environment: [String: String] = [:], dataDir: String? = nil,
                      plugins: [String] = ["contacts", "service"]) async throws -> ServiceWorld {
        // As AccessSupport.start, with the plugin settings in `environment`.
        let crmd = try launch(environment: environment, dataDir: dataDir, plugins: plugins)
        // The portal's role, as docs/SERVICE.md tells an administrator to make it.
        _ = try await crmd.connect().call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "service_portal"
            $0.description_p = "A customer portal's web edge: requesters' own tickets and public messages."
            $0.permissions = [.with { $0.permission = "service.portal.*"; $0.scope = .all },
                              .with { $0.permission = "contacts.person.read"; $0.scope = .all }]
        }, as: Crm_Kernel_V1_Role.self)
        for (name, role) in [("ana", "service_agent"), ("ben", "service_agent"), ("cy", "service_agent"),
                             ("mia", "service_manager"), ("pat", "service_portal")] {
            try await AccessSupport.createUser(crmd, name, roles: [role])
        }
        try await AccessSupport.createTeam(crmd, "billing", members: ["ana", "ben"])
        try await AccessSupport.createTeam(crmd, "shared", members: ["ana", "cy"])
        let world = try clients(crmd)
        try await world.admin.setTeam("billing", agents: ["ana", "ben"])
        try await world.admin.setTeam("tech", agents: ["cy"])
        return world
    }

    /// crmd again on the data of a world started with `dataDir` (its users,
    /// roles and teams are in the database).
    static func reopen(dataDir: String, environment: [String: String] = [:],
                       plugins: [String] = ["contacts", "service"]) throws -> ServiceWorld {
        try clients(try launch(environment: environment, dataDir: dataDir, plugins: plugins))
    }

    private static func launch(environment: [String: String], dataDir: String?, plugins: [String]) throws -> CrmdProcess {
        let crmd = try CrmdProcess(plugins: plugins, arguments: [
            "--socket-mode", "0666", "--trusted-proxy-uid", "\(getuid())"], environment: environment, dataDir: dataDir)
        chmod(crmd.dir, 0o755)
        return crmd
    }

    private static func clients(_ crmd: CrmdProcess) throws -> ServiceWorld {
        let connection = try crmd.connect()
        func client(_ user: String) -> ServiceClient {
            ServiceClient(connection: connection, metadata: AccessSupport.actingAs(user))
        }
        return ServiceWorld(crmd: crmd, connection: connection, contacts: ContactsClient(connection: connection),
                            admin: ServiceClient(connection: connection), ana: client("ana"), ben: client("ben"),
                            cy: client("cy"), mia: client("mia"), pat: client("pat"))
    }

    /// The audit trail of one record, newest first (as the kernel lists it).
    func audit(_ entity: String, _ record: Int64) async throws -> [Crm_Kernel_V1_AuditEntry] {
        let response: Crm_Kernel_V1_ListAuditResponse = try await connection.call(
            "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with {
                $0.entity = entity
                $0.recordID = String(record)
                $0.pageSize = 1000
            })
        return response.entries
    }

    /// A person in contacts (created by the administrator).
    func person(_ first: String, _ last: String, organization: Int64 = 0) async throws -> Int64 {
        try await contacts.createPerson(first, last, email: "\(first.lowercased())@example.com", organization: organization).id
    }
}
