import CRMKernelCore
import Testing

@Suite struct PermissionNameTests {
    @Test func aPermissionIsThePluginsNameThenLowercaseSegments() {
        #expect(PermissionName.isValid("sales.lead.write", plugin: "sales"))
        #expect(PermissionName.isValid("contacts.custom_field.read", plugin: "contacts"))
        #expect(PermissionName.isValid("b2b.quote.approve2", plugin: "b2b"))
    }

    @Test func anythingElseIsRefused() {
        #expect(!PermissionName.isValid("contacts.person.read", plugin: "sales"), "another plugin's prefix")
        #expect(!PermissionName.isValid("sales.lead", plugin: "sales"), "needs an entity and an action")
        #expect(!PermissionName.isValid("sales..write", plugin: "sales"), "empty segment")
        #expect(!PermissionName.isValid("sales.Lead.write", plugin: "sales"), "uppercase")
        #expect(!PermissionName.isValid("sales.lead.write.", plugin: "sales"), "trailing dot")
        #expect(!PermissionName.isValid("sales.2lead.write", plugin: "sales"), "segment starting with a digit")
        #expect(!PermissionName.isValid("sales.lead.wr-ite", plugin: "sales"), "hyphen")
        #expect(!PermissionName.isValid("sales.lead.é", plugin: "sales"), "non-ASCII")
        #expect(!PermissionName.isValid("", plugin: "sales"))
    }
}
