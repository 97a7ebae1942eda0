import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import ServiceTestClient

/// ServiceWorld with the knowledge base's other readers:
/// - rita: read_only (`*.read` at scope all: service.article.read, but
///   not service.article.read_internal nor any write);
/// - pub: the custom role kb_reader, service.article.read only (a help
///   centre's public web edge);
/// - dan: service_agent on no team, so his write scope reaches only
///   his own articles.
struct KnowledgeWorld {
    let world: ServiceWorld
    let rita: ServiceClient
    let pub: ServiceClient
    let dan: ServiceClient

    static func start() async throws -> KnowledgeWorld {
        let world = try await ServiceWorld.start()
        _ = try await world.crmd.connect().call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "kb_reader"
            $0.description_p = "A public help centre: published articles only."
            $0.permissions = [.with { $0.permission = "service.article.read"; $0.scope = .all }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(world.crmd, "rita", roles: ["read_only"])
        try await AccessSupport.createUser(world.crmd, "pub", roles: ["kb_reader"])
        try await AccessSupport.createUser(world.crmd, "dan", roles: ["service_agent"])
        func client(_ user: String) -> ServiceClient {
            ServiceClient(connection: world.connection, metadata: AccessSupport.actingAs(user))
        }
        return KnowledgeWorld(world: world, rita: client("rita"), pub: client("pub"), dan: client("dan"))
    }
}

extension Crm_Service_V1_SearchArticlesResponse {
    var titles: [String] { hits.map(\.article.title) }
}
