import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SwiftProtobuf
import Testing

/// Custom roles, disabled users and Access/Explain, over the socket: the
/// scope a role grants is what the probe's handler is told (Echo reports
/// crm_access_api.scope), for web users asserted by a trusted proxy.
@Suite struct AccessRolesExplainTests {
    let access = "/crm.kernel.v1.Access/"
    let echo = "/crm.testing.v1.Probe/Echo"

    func role(_ client: Connection, _ method: String, _ request: some SwiftProtobuf.Message) async throws -> Crm_Kernel_V1_Role {
        try await client.call(access + method, request, as: Crm_Kernel_V1_Role.self)
    }

    func scope(_ client: Connection, as user: String, for permission: String = "") async throws -> (Int32, [String]) {
        let answer = try await client.call(echo, Crm_Testing_V1_EchoRequest.with { $0.scopePermission = permission },
                                           as: Crm_Testing_V1_EchoResponse.self, metadata: AccessSupport.actingAs(user))
        return (answer.scopeReach, answer.scopeOwners)
    }

    func grants(_ text: [(String, Crm_Kernel_V1_RecordScope)]) -> [Crm_Kernel_V1_RolePermission] {
        text.map { pattern, scope in .with { $0.permission = pattern; $0.scope = scope } }
    }

    @Test func aCustomRolesScopeReachesTheHandlerAndFollowsItsUpdates() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        let client = try crmd.connect()
        let created = try await role(client, "CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "probe_own"; $0.description_p = "Own probe items."
            $0.permissions = grants([("probe.item.*", .own)]); $0.idempotencyKey = "r1"
        })
        #expect(!created.firstParty && created.version == 1)
        // A retry answers the same; the same key with another request is refused.
        #expect(try await role(client, "CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "probe_own"; $0.description_p = "Own probe items."
            $0.permissions = grants([("probe.item.*", .own)]); $0.idempotencyKey = "r1"
        }) == created)
        await #expect(throws: RPCError(.failedPrecondition, "idempotency_key r1 was used with another request")) {
            _ = try await role(client, "CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
                $0.name = "other"; $0.permissions = grants([("*", .all)]); $0.idempotencyKey = "r1"
            })
        }
        for name in ["ann", "ben", "cat"] { try await AccessSupport.createUser(crmd, name) }
        try await AccessSupport.createTeam(crmd, "east", members: ["ann", "ben"])
        try await AccessSupport.grant(crmd, "ann", "probe_own")
        #expect(try await scope(client, as: "ann") == (1, ["ann"]))
        // A permission the role does not match: no reach at all.
        #expect(try await scope(client, as: "ann", for: "sales.lead.read") == (0, []))

        let updated = try await role(client, "UpdateRole", Crm_Kernel_V1_UpdateRoleRequest.with {
            $0.name = "probe_own"; $0.description_p = "Team probe items."
            $0.permissions = grants([("probe.item.*", .team)]); $0.expectedVersion = 1
        })
        #expect(updated.version == 2)
        #expect(try await scope(client, as: "ann") == (2, ["ann", "ben"]))
        await #expect(throws: RPCError(.aborted, "role probe_own is at version 2, not 1")) {
            _ = try await role(client, "UpdateRole", Crm_Kernel_V1_UpdateRoleRequest.with {
                $0.name = "probe_own"; $0.permissions = grants([("*", .all)]); $0.expectedVersion = 1
            })
        }
        // Two roles matching one permission: the widest scope wins.
        try await AccessSupport.grant(crmd, "ann", "read_only")
        #expect(try await scope(client, as: "ann") == (3, []))

        // ListRoles shows first-party and custom roles, told apart.
        let roles = try await client.call(access + "ListRoles", Crm_Kernel_V1_ListRolesRequest(),
                                          as: Crm_Kernel_V1_ListRolesResponse.self).roles
        #expect(roles.first { $0.name == "probe_own" }?.firstParty == false)
        #expect(roles.first { $0.name == "sales_rep" }?.firstParty == true)
        #expect(roles.map(\.name) == roles.map(\.name).sorted())

        await #expect(throws: RPCError(.failedPrecondition, "role probe_own is held by ann; revoke it first")) {
            _ = try await client.call(access + "DeleteRole", Crm_Kernel_V1_DeleteRoleRequest.with { $0.name = "probe_own" },
                                      as: Crm_Kernel_V1_DeleteRoleResponse.self)
        }
        try await AccessSupport.revoke(crmd, "ann", "probe_own")
        _ = try await client.call(access + "DeleteRole", Crm_Kernel_V1_DeleteRoleRequest.with { $0.name = "probe_own" },
                                  as: Crm_Kernel_V1_DeleteRoleResponse.self)
        await #expect(throws: RPCError(.notFound, "no role named probe_own")) {
            _ = try await client.call(access + "Grant", Crm_Kernel_V1_GrantRequest.with { $0.user = "cat"; $0.role = "probe_own" },
                                      as: Crm_Kernel_V1_User.self)
        }
    }

    @Test func badRolesAndFirstPartyChangesAreRefusedWithTheirStatus() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        let client = try crmd.connect()
        func create(_ name: String, _ permissions: [(String, Crm_Kernel_V1_RecordScope)], description: String = "") async throws {
            _ = try await role(client, "CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
                $0.name = name; $0.permissions = grants(permissions); $0.description_p = description
            })
        }
        await #expect(throws: RPCError(.alreadyExists, "a role named sales_rep exists")) { try await create("sales_rep", [("*", .all)]) }
        await #expect(throws: RPCError(.invalidArgument, "a role needs 1 to 200 permissions, not 0")) { try await create("empty", []) }
        await #expect(throws: RPCError(.invalidArgument, "permissions[0] needs a scope: OWN, TEAM or ALL")) {
            try await create("noscope", [("contacts.person.read", .unspecified)])
        }
        for bad in ["contacts", "contacts.person", "Contacts.person.read", "a.*.b", "*.a.b", "**", "contacts..read", ""] {
            await #expect(throws: RPCError.self, "\(bad)") { try await create("bad", [(bad, .all)]) }
        }
        await #expect(throws: RPCError(.invalidArgument, "description is over 500 bytes")) {
            try await create("long", [("*", .all)], description: String(repeating: "x", count: 501))
        }
        await #expect(throws: RPCError(.failedPrecondition, "role read_only is first-party and read-only; create a custom role instead")) {
            _ = try await role(client, "UpdateRole", Crm_Kernel_V1_UpdateRoleRequest.with {
                $0.name = "read_only"; $0.permissions = grants([("*", .all)])
            })
        }
        await #expect(throws: RPCError(.failedPrecondition, "role administrator is first-party and cannot be deleted")) {
            _ = try await client.call(access + "DeleteRole", Crm_Kernel_V1_DeleteRoleRequest.with { $0.name = "administrator" },
                                      as: Crm_Kernel_V1_DeleteRoleResponse.self)
        }
        await #expect(throws: RPCError(.notFound, "no role named ghost")) {
            _ = try await role(client, "UpdateRole", Crm_Kernel_V1_UpdateRoleRequest.with {
                $0.name = "ghost"; $0.permissions = grants([("*", .all)])
            })
        }
    }

    @Test func aDisabledUserIsRefusedUntilEnabledAndStaysDisabledAcrossARestart() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var crmd: CrmdProcess? = try CrmdProcess(arguments: ["--trusted-proxy-uid", "\(getuid())"], dataDir: dataDir)
        try await AccessSupport.createUser(crmd!, "dan", roles: ["administrator"])
        var client = try crmd!.connect()
        _ = try await scope(client, as: "dan")
        let disabled = try await client.call(access + "UpdateUser", Crm_Kernel_V1_UpdateUserRequest.with {
            $0.name = "dan"; $0.disabled = true
        }, as: Crm_Kernel_V1_User.self)
        #expect(disabled.disabled && disabled.version == 2)
        await #expect(throws: RPCError(.permissionDenied, "user dan is disabled")) { _ = try await scope(client, as: "dan") }
        _ = try await crmd!.stop()
        crmd = nil
        crmd = try CrmdProcess(arguments: ["--trusted-proxy-uid", "\(getuid())"], dataDir: dataDir)
        client = try crmd!.connect()
        await #expect(throws: RPCError(.permissionDenied, "user dan is disabled")) { _ = try await scope(client, as: "dan") }
        // Setting only `disabled` leaves the display name alone.
        let enabled = try await client.call(access + "UpdateUser", Crm_Kernel_V1_UpdateUserRequest.with {
            $0.name = "dan"; $0.disabled = false
        }, as: Crm_Kernel_V1_User.self)
        #expect(!enabled.disabled && enabled.displayName == "")
        #expect(try await scope(client, as: "dan") == (3, []))
    }

    @Test func explainNamesTheRoleScopeAndRecordOwnerThatDecide() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "sales", "probe"])
        let client = try crmd.connect()
        try await AccessSupport.createUser(crmd, "rae", roles: ["sales_rep"])
        try await AccessSupport.createUser(crmd, "sam", roles: ["sales_rep"])
        try await AccessSupport.createUser(crmd, "nobody")
        func explain(_ user: String, _ method: String, _ record: String = "") async throws -> Crm_Kernel_V1_ExplainResponse {
            try await client.call(access + "Explain", Crm_Kernel_V1_ExplainRequest.with {
                $0.user = user; $0.method = method; $0.record = record
            }, as: Crm_Kernel_V1_ExplainResponse.self)
        }
        let getPerson = "/crm.contacts.v1.Contacts/GetPerson"
        let allowed = try await explain("rae", getPerson)
        #expect(allowed.allowed && allowed.role == "sales_rep" && allowed.pattern == "contacts.person.read" && allowed.scope == .own)
        #expect(allowed.reason == "allowed: role sales_rep grants contacts.person.read with scope OWN")
        let denied = try await explain("nobody", getPerson)
        #expect(!denied.allowed && denied.reason == "denied: no role of nobody grants contacts.person.read")
        let open = try await explain("nobody", "/crm.kernel.v1.Health/Check")
        #expect(open.allowed)

        // The record's owner comes from its latest audited write.
        _ = try await client.call("/crm.testing.v1.Probe/Record", Crm_Testing_V1_RecordRequest.with {
            $0.entries = [.with { $0.entity = "probe.item"; $0.recordID = "7"; $0.action = "create"; $0.owner = "sam" }]
        }, as: Crm_Testing_V1_RecordResponse.self)
        try await AccessSupport.createUser(crmd, "pia")
        _ = try await role(client, "CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "probe_own"; $0.permissions = grants([("probe.item.*", .own)])
        })
        try await AccessSupport.grant(crmd, "pia", "probe_own")
        let get = "/crm.testing.v1.Probe/Get"
        let outside = try await explain("pia", get, "probe.item:7")
        #expect(!outside.allowed && outside.recordKnown && outside.recordOwner == "sam")
        #expect(outside.reason.contains("owned by sam, outside it: a read answers NOT_FOUND"))
        let unknown = try await explain("pia", get, "probe.item:8")
        #expect(!unknown.allowed && !unknown.recordKnown)
        let admin = try await explain("rae", "/crm.kernel.v1.Access/Grant")
        #expect(!admin.allowed && admin.reason == "denied: no role of rae grants kernel.access.write")

        await #expect(throws: RPCError(.notFound, "no user named ghost")) { _ = try await explain("ghost", get) }
        await #expect(throws: RPCError(.notFound, "no method named /x.Y/Z")) { _ = try await explain("rae", "/x.Y/Z") }
        await #expect(throws: RPCError(.invalidArgument, "record must be <entity>:<id>, e.g. contacts.person:42, not \"7\"")) {
            _ = try await explain("rae", get, "7")
        }

        // crmctl access explain prints the reason and exits 0 or 1.
        let yes = try CrmctlRun.run(["access", "explain", "--user", "rae", "--method", getPerson], socket: crmd.socketPath)
        #expect(yes.status == 0 && yes.stdout == "allowed: role sales_rep grants contacts.person.read with scope OWN\n")
        let no = try CrmctlRun.run(["access", "explain", "--user", "nobody", "--method", getPerson], socket: crmd.socketPath)
        #expect(no.status == 1 && no.stdout == "denied: no role of nobody grants contacts.person.read\n")
    }

    @Test func crmctlCreatesListsAndDeletesACustomRole() async throws {
        let crmd = try AccessSupport.start(plugins: ["probe"])
        let add = try CrmctlRun.run(["access", "roles", "--add", "auditor", "--description", "Reads the trail.",
                                     "--permission", "kernel.audit.read=all", "--permission", "contacts.*=team"],
                                    socket: crmd.socketPath)
        #expect(add.status == 0)
        #expect(add.stdout == "auditor (custom, version 1): Reads the trail.\n  kernel.audit.read (all)\n  contacts.* (team)\n")
        let bad = try CrmctlRun.run(["access", "roles", "--add", "x", "--permission", "contacts.*=some"], socket: crmd.socketPath)
        #expect(bad.status != 0 && bad.stderr.contains("the scope must be own, team or all"))
        let list = try CrmctlRun.run(["access", "roles"], socket: crmd.socketPath)
        #expect(list.stdout.contains("auditor (custom, version 1): Reads the trail.") && list.stdout.contains("\nsales_rep: "))
        let delete = try CrmctlRun.run(["access", "roles", "--delete", "auditor"], socket: crmd.socketPath)
        #expect(delete.status == 0 && delete.stdout == "deleted role auditor\n")
    }
}
