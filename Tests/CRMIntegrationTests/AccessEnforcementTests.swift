import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SwiftProtobuf
import Testing

/// Method permissions enforced before dispatch, for callers that are not
/// crmd's own uid: the real crmctl run under other uids with setpriv.
/// The tests run as root (CI does), which is crmd's uid: an administrator.
@Suite(.serialized) struct AccessEnforcementTests {
    static let bound: UInt32 = 40_001, proxy: UInt32 = 40_002, stranger: UInt32 = 40_003

    /// crmd with contacts, sales and the probe, its socket open to other uids.
    func start() throws -> CrmdProcess {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales", "probe"],
                                   arguments: ["--socket-mode", "0666", "--trusted-proxy-uid", "\(Self.proxy)"])
        chmod(crmd.dir, 0o755)
        return crmd
    }

    func crmctl(as uid: UInt32, _ arguments: [String], socket: String) throws -> CrmctlRun {
        try CrmctlRun.run(arguments, socket: socket, uid: uid)
    }

    func admin(_ crmd: CrmdProcess, _ method: String, _ request: some SwiftProtobuf.Message) async throws -> Crm_Kernel_V1_User {
        try await crmd.connect().call("/crm.kernel.v1.Access/" + method, request, as: Crm_Kernel_V1_User.self)
    }

    func createUser(_ crmd: CrmdProcess, _ name: String, uids: [UInt32] = [], roles: [String] = []) async throws {
        _ = try await admin(crmd, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = name; $0.uids = uids })
        for role in roles {
            _ = try await admin(crmd, "Grant", Crm_Kernel_V1_GrantRequest.with { $0.user = name; $0.role = role })
        }
    }

    static let listPeople = ["call", "/crm.contacts.v1.Contacts/ListPeople", "{}"]
    static let createPerson = ["call", "/crm.contacts.v1.Contacts/CreatePerson", #"{"person":{"firstName":"Ada"}}"#]
    static let denied = Int32(Crm_Rpc_V1_StatusCode.permissionDenied.rawValue)

    @Test func anUnboundUidIsRefusedEverywhereButHealthAndReflection() throws {
        let crmd = try start()
        let socket = crmd.socketPath
        #expect(try crmctl(as: Self.stranger, ["health"], socket: socket).status == 0)
        #expect(try crmctl(as: Self.stranger, ["services"], socket: socket).status == 0)
        for arguments in [["plugins"], Self.listPeople, Self.createPerson, ["access", "users"], ["events", "--after", "0"],
                          ["call", "/crm.testing.v1.Probe/Echo", "{}"]] {
            let run = try crmctl(as: Self.stranger, arguments, socket: socket)
            #expect(run.status == Self.denied, "\(arguments)")
            #expect(run.stderr == "crmctl: PERMISSION_DENIED: uid \(Self.stranger) is not bound to a CRM user; an administrator must bind it\n")
        }
    }

    @Test func aReadOnlyUserReadsButEveryWriteIsDeniedNamingThePermission() async throws {
        let crmd = try start()
        try await createUser(crmd, "rita", uids: [Self.bound], roles: ["read_only"])
        let socket = crmd.socketPath
        #expect(try crmctl(as: Self.bound, Self.listPeople, socket: socket).status == 0)
        let write = try crmctl(as: Self.bound, Self.createPerson, socket: socket)
        #expect(write.status == Self.denied)
        #expect(write.stderr == "crmctl: PERMISSION_DENIED: user rita lacks permission contacts.person.write\n")
        let grant = try crmctl(as: Self.bound, ["access", "grant", "rita", "administrator"], socket: socket)
        #expect(grant.stderr == "crmctl: PERMISSION_DENIED: user rita lacks permission kernel.access.write\n")
        #expect(try crmctl(as: Self.bound, ["access", "roles"], socket: socket).status == 0)
    }

    @Test func grantingAndRevokingARoleTakesEffectOnTheNextCall() async throws {
        let crmd = try start()
        try await createUser(crmd, "gus", uids: [Self.bound])
        let socket = crmd.socketPath
        let before = try crmctl(as: Self.bound, Self.listPeople, socket: socket)
        #expect(before.stderr == "crmctl: PERMISSION_DENIED: user gus lacks permission contacts.person.read\n")
        _ = try await admin(crmd, "Grant", Crm_Kernel_V1_GrantRequest.with { $0.user = "gus"; $0.role = "sales_rep" })
        #expect(try crmctl(as: Self.bound, Self.listPeople, socket: socket).status == 0)
        #expect(try crmctl(as: Self.bound, Self.createPerson, socket: socket).status == 0)
        _ = try await admin(crmd, "Revoke", Crm_Kernel_V1_RevokeRequest.with { $0.user = "gus"; $0.role = "sales_rep" })
        #expect(try crmctl(as: Self.bound, Self.listPeople, socket: socket).status == Self.denied)
        _ = try await admin(crmd, "UnbindUid", Crm_Kernel_V1_UnbindUidRequest.with { $0.uid = Self.bound })
        #expect(try crmctl(as: Self.bound, Self.listPeople, socket: socket).stderr.contains("is not bound to a CRM user"))
    }

    @Test func crmUserIsBelievedFromATrustedProxyOnlyAndReachesTheHandler() async throws {
        let crmd = try start()
        try await createUser(crmd, "rita", uids: [Self.bound], roles: ["read_only"])
        try await createUser(crmd, "wendy", roles: ["read_only", "sales_rep"])
        let socket = crmd.socketPath
        let asWendy = ["-H", "crm-user=wendy"]
        // From an untrusted uid the assertion is ignored: rita stays rita, a stranger a stranger.
        let ignored = try crmctl(as: Self.bound, Self.createPerson + asWendy, socket: socket)
        #expect(ignored.stderr == "crmctl: PERMISSION_DENIED: user rita lacks permission contacts.person.write\n")
        #expect(try crmctl(as: Self.stranger, Self.listPeople + asWendy, socket: socket).status == Self.denied)
        // From the proxy it acts as wendy; the handler sees wendy and the proxy's uid, not the metadata entry.
        #expect(try crmctl(as: Self.proxy, Self.createPerson + asWendy, socket: socket).status == 0)
        let echo = try crmctl(as: Self.proxy, ["call", "/crm.testing.v1.Probe/Echo", "{}"] + asWendy, socket: socket)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(echo.stdout.utf8)) as? [String: Any])
        #expect(object["user"] as? String == "wendy")
        #expect(object["proxyUid"] as? String == "\(Self.proxy)")
        #expect(object["callerUid"] as? String == "\(Self.proxy)")
        #expect(object["metadata"] == nil)
        let unknown = try crmctl(as: Self.proxy, Self.listPeople + ["-H", "crm-user=nobody"], socket: socket)
        #expect(unknown.stderr == "crmctl: PERMISSION_DENIED: crm-user nobody is not a CRM user\n")
        // Without an assertion the proxy is just its own uid, bound to no one.
        #expect(try crmctl(as: Self.proxy, Self.listPeople, socket: socket).status == Self.denied)
    }

    @Test func inProcessCallsAreCheckedAgainstTheOriginalCaller() async throws {
        let crmd = try start()
        try await createUser(crmd, "rita", uids: [Self.bound], roles: ["read_only"])
        try await createUser(crmd, "sam", roles: ["sales_rep"])
        let socket = crmd.socketPath
        // rita may call the probe's Relay, not what it relays to: Relay answers
        // OK with the status its in-process call got.
        let relay = try crmctl(as: Self.bound, ["call", "/crm.testing.v1.Probe/Relay",
                                                #"{"method":"/crm.contacts.v1.Contacts/CreatePerson"}"#], socket: socket)
        #expect(relay.status == 0, "\(relay.stderr)")
        let relayed = try #require(try JSONSerialization.jsonObject(with: Data(relay.stdout.utf8)) as? [String: Any])
        #expect(relayed["status"] as? Int == Int(Self.denied))
        #expect(relayed["message"] as? String == "user rita lacks permission contacts.person.write")
        // Also when the plugin leaves the parent out: the handler's caller is still the caller.
        let orphan = try crmctl(as: Self.bound, ["call", "/crm.testing.v1.Probe/Relay",
                                                 #"{"method":"/crm.contacts.v1.Contacts/CreatePerson","withoutParent":true}"#],
                                socket: socket)
        let orphaned = try #require(try JSONSerialization.jsonObject(with: Data(orphan.stdout.utf8)) as? [String: Any])
        #expect(orphaned["message"] as? String == "user rita lacks permission contacts.person.write")
        let echo = try crmctl(as: Self.bound, ["call", "/crm.testing.v1.Probe/Relay",
                                               #"{"method":"/crm.testing.v1.Probe/Echo"}"#], socket: socket)
        let echoed = try #require(try JSONSerialization.jsonObject(with: Data(echo.stdout.utf8)) as? [String: Any])
        #expect(echoed["status"] == nil)
        // The callee's context carries the original caller's user.
        let payload = try #require(Data(base64Encoded: echoed["payload"] as? String ?? ""))
        #expect(try Crm_Testing_V1_EchoResponse(serializedBytes: payload).user == "rita")
        // sales -> contacts: a rep's ConvertLead creates the person on the rep's rights.
        let asSam = ["-H", "crm-user=sam"]
        let lead = try crmctl(as: Self.proxy, ["call", "/crm.sales.v1.Sales/CreateLead",
                                               #"{"lead":{"firstName":"Lin","lastName":"Ng"},"idempotencyKey":"l1"}"#] + asSam,
                              socket: socket)
        #expect(lead.status == 0, "\(lead.stderr)")
        let id = try #require(try JSONSerialization.jsonObject(with: Data(lead.stdout.utf8)) as? [String: Any])["id"] as? String
        let convert = try crmctl(as: Self.proxy, ["call", "/crm.sales.v1.Sales/ConvertLead",
                                                  #"{"leadId":"\#(id ?? "0")","idempotencyKey":"c1"}"#] + asSam, socket: socket)
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("\"person\""))
        let readOnly = try crmctl(as: Self.bound, ["call", "/crm.sales.v1.Sales/ConvertLead",
                                                   #"{"leadId":"\#(id ?? "0")","idempotencyKey":"c2"}"#], socket: socket)
        #expect(readOnly.stderr == "crmctl: PERMISSION_DENIED: user rita lacks permission sales.lead.convert\n")
    }
}
