import CRMKernelContract
import CRMWire
import Foundation
import SwiftProtobuf

/// crm.kernel.v1.Access: users, teams, roles and grants (see access.proto).
/// Every method runs off the event loop: writes wait for their commit, and
/// reads share the lock writes hold.
struct AccessService: KernelService {
    static let name = "crm.kernel.v1.Access"
    let access: AccessControl
    let router: Router
    let storage: Storage?

    var methods: [KernelMethod] { userAndTeamMethods + roleMethods + [explainMethod] }

    private var userAndTeamMethods: [KernelMethod] {
        [
            Self.method("ListUsers", Crm_Kernel_V1_ListUsersRequest.self) { [access] req in
                let all = access.read { model in model.users.keys.sorted().map { model.message(model.users[$0]!) } }
                let (page, next) = try PageToken.page(all, list: "access.users", size: req.pageSize, token: req.pageToken)
                return Crm_Kernel_V1_ListUsersResponse.with { $0.users = page; $0.nextPageToken = next }
            },
            Self.idempotent("CreateUser", Crm_Kernel_V1_CreateUserRequest.self, access) { req, model in
                try AccessModel.checkName(req.name, field: "name")
                try Self.checkDisplayName(req.displayName)
                guard model.users[req.name] == nil else { throw RPCError(.alreadyExists, "a user named \(req.name) exists") }
                var user = AccessModel.User(id: model.nextID, name: req.name, displayName: req.displayName)
                var statements = [AccessStore.Statement(
                    "INSERT INTO kernel_access_users (id, name, display_name, version) VALUES (?, ?, ?, 1)",
                    [.integer(user.id), .text(user.name), .text(user.displayName)])]
                for uid in Set(req.uids) {
                    try AccessModel.checkBindable(uid, crmdUID: access.crmdUID)
                    if let holder = model.user(boundTo: uid) {
                        throw RPCError(.alreadyExists, "uid \(uid) is bound to user \(holder.name)")
                    }
                    user.uids.insert(uid)
                    statements.append(.init("INSERT INTO kernel_access_uids (uid, user_id) VALUES (?, ?)",
                                            [.integer(Int64(uid)), .integer(user.id)]))
                }
                model.nextID += 1
                model.users[user.name] = user
                return (model.message(user), statements)
            },
            Self.method("UpdateUser", Crm_Kernel_V1_UpdateUserRequest.self) { [access] req in
                try access.write { model in
                    var user = try model.existingUser(req.name)
                    if req.hasDisplayName { try Self.checkDisplayName(req.displayName) }
                    if req.expectedVersion != 0 && req.expectedVersion != user.version {
                        throw RPCError(.aborted, "user \(user.name) is at version \(user.version), not \(req.expectedVersion)")
                    }
                    if req.hasDisplayName { user.displayName = req.displayName }
                    if req.hasDisabled { user.disabled = req.disabled }
                    user.version += 1
                    model.users[user.name] = user
                    return (model.message(user), [.init(
                        "UPDATE kernel_access_users SET display_name = ?, disabled = ?, version = ? WHERE id = ?",
                        [.text(user.displayName), .integer(user.disabled ? 1 : 0), .integer(user.version), .integer(user.id)])])
                }
            },
            Self.method("BindUid", Crm_Kernel_V1_BindUidRequest.self) { [access] req in
                try access.write { model in
                    var user = try model.existingUser(req.user)
                    try AccessModel.checkBindable(req.uid, crmdUID: access.crmdUID)
                    if let holder = model.user(boundTo: req.uid) {
                        guard holder.name == user.name else {
                            throw RPCError(.alreadyExists, "uid \(req.uid) is bound to user \(holder.name)")
                        }
                        return (model.message(user), [])
                    }
                    user.uids.insert(req.uid)
                    user.version += 1
                    model.users[user.name] = user
                    return (model.message(user), [
                        .init("INSERT INTO kernel_access_uids (uid, user_id) VALUES (?, ?)", [.integer(Int64(req.uid)), .integer(user.id)]),
                        Self.bumpVersion(user)])
                }
            },
            Self.method("UnbindUid", Crm_Kernel_V1_UnbindUidRequest.self) { [access] req in
                try access.write { model in
                    guard var user = model.user(boundTo: req.uid) else { throw RPCError(.notFound, "uid \(req.uid) is not bound") }
                    user.uids.remove(req.uid)
                    user.version += 1
                    model.users[user.name] = user
                    return (model.message(user), [
                        .init("DELETE FROM kernel_access_uids WHERE uid = ?", [.integer(Int64(req.uid))]), Self.bumpVersion(user)])
                }
            },
            Self.method("ListTeams", Crm_Kernel_V1_ListTeamsRequest.self) { [access] req in
                let all = access.read { model in model.teams.keys.sorted().map { model.message(model.teams[$0]!) } }
                let (page, next) = try PageToken.page(all, list: "access.teams", size: req.pageSize, token: req.pageToken)
                return Crm_Kernel_V1_ListTeamsResponse.with { $0.teams = page; $0.nextPageToken = next }
            },
            Self.idempotent("CreateTeam", Crm_Kernel_V1_CreateTeamRequest.self, access) { req, model in
                try AccessModel.checkName(req.name, field: "name")
                guard model.teams[req.name] == nil else { throw RPCError(.alreadyExists, "a team named \(req.name) exists") }
                let team = AccessModel.Team(id: model.nextID, name: req.name, members: Set(req.members))
                model.nextID += 1
                var statements = [AccessStore.Statement("INSERT INTO kernel_access_teams (id, name) VALUES (?, ?)",
                                                        [.integer(team.id), .text(team.name)])]
                statements += try Self.memberRows(team, model)
                model.teams[team.name] = team
                return (model.message(team), statements)
            },
            Self.method("SetTeamMembers", Crm_Kernel_V1_SetTeamMembersRequest.self) { [access] req in
                try access.write { model in
                    guard var team = model.teams[req.name] else { throw RPCError(.notFound, "no team named \(req.name)") }
                    team.members = Set(req.members)
                    let statements = [AccessStore.Statement("DELETE FROM kernel_access_team_members WHERE team_id = ?",
                                                            [.integer(team.id)])] + (try Self.memberRows(team, model))
                    model.teams[team.name] = team
                    return (model.message(team), statements)
                }
            },
            Self.method("Grant", Crm_Kernel_V1_GrantRequest.self) { [access] req in
                try access.write { model in
                    var user = try model.existingUser(req.user)
                    guard model.role(named: req.role) != nil else { throw RPCError(.notFound, "no role named \(req.role)") }
                    guard user.roles.insert(req.role).inserted else { return (model.message(user), []) }
                    model.users[user.name] = user
                    return (model.message(user), [.init("INSERT INTO kernel_access_grants (user_id, role) VALUES (?, ?)",
                                                        [.integer(user.id), .text(req.role)])])
                }
            },
            Self.method("Revoke", Crm_Kernel_V1_RevokeRequest.self) { [access] req in
                try access.write { model in
                    var user = try model.existingUser(req.user)
                    guard user.roles.remove(req.role) != nil else { return (model.message(user), []) }
                    model.users[user.name] = user
                    return (model.message(user), [.init("DELETE FROM kernel_access_grants WHERE user_id = ? AND role = ?",
                                                        [.integer(user.id), .text(req.role)])])
                }
            },
        ]
    }

    private static func checkDisplayName(_ name: String) throws {
        guard name.utf8.count <= 200 else { throw RPCError(.invalidArgument, "display_name is over 200 bytes") }
    }

    private static func bumpVersion(_ user: AccessModel.User) -> AccessStore.Statement {
        .init("UPDATE kernel_access_users SET version = ? WHERE id = ?", [.integer(user.version), .integer(user.id)])
    }

    private static func memberRows(_ team: AccessModel.Team, _ model: AccessModel) throws -> [AccessStore.Statement] {
        try team.members.sorted().map { name in
            let user = try model.existingUser(name)
            return .init("INSERT INTO kernel_access_team_members (team_id, user_id) VALUES (?, ?)",
                         [.integer(team.id), .integer(user.id)])
        }
    }

    /// A method run off the loop: decodes, runs `body`, serializes.
    static func method<Req: Message, Resp: Message>(
        _ method: String, _ req: Req.Type, _ body: @escaping @Sendable (Req) throws -> Resp
    ) -> KernelMethod {
        var m = KernelMethod(fullName: "/\(name)/\(method)", service: name, requestType: Req.protoMessageName,
                             responseType: Resp.protoMessageName, serverStreaming: false, unary: nil)
        m.blocking = { payload, _ in try body(decodeRequest(Req.self, payload)).serializedBytes() }
        return m
    }

    /// A create that takes an `idempotency_key` (the request's field 3 or 4,
    /// cleared for the fingerprint).
    static func idempotent<Req: Message & AccessIdempotentRequest, Resp: Message>(
        _ method: String, _ req: Req.Type, _ access: AccessControl,
        _ body: @escaping @Sendable (Req, inout AccessModel) throws -> (Resp, [AccessStore.Statement])
    ) -> KernelMethod {
        var m = KernelMethod(fullName: "/\(name)/\(method)", service: name, requestType: Req.protoMessageName,
                             responseType: Resp.protoMessageName, serverStreaming: false, unary: nil)
        m.blocking = { payload, _ in
            let request = try decodeRequest(Req.self, payload)
            var bare = request
            bare.idempotencyKey = ""
            let fingerprint: [UInt8] = try bare.serializedBytes()
            return try access.create(method: method, key: request.idempotencyKey, fingerprint: fingerprint) { model in
                let (response, statements) = try body(request, &model)
                return (try response.serializedBytes(), statements)
            }
        }
        return m
    }
}

/// A create request with an idempotency key.
protocol AccessIdempotentRequest { var idempotencyKey: String { get set } }
extension Crm_Kernel_V1_CreateUserRequest: AccessIdempotentRequest {}
extension Crm_Kernel_V1_CreateTeamRequest: AccessIdempotentRequest {}
extension Crm_Kernel_V1_CreateRoleRequest: AccessIdempotentRequest {}
