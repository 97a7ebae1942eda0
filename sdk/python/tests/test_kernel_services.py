"""The kernel's Plugins and Reflection services (docs/PROTOCOL.md §11.2, §11.3 and §11.6);
Health.Check is in test_calls.py, Health.Watch in test_streams.py."""

import crm
from crm import StatusCode
from helpers import IO_TIMEOUT, KERNEL_SERVICES


def test_plugins_list_decodes(conn):
    status, message, payload = conn.call(crm.PLUGINS_LIST, crm.ListPluginsRequest().encode())
    assert status == StatusCode.OK, message
    response = crm.ListPluginsResponse.decode(payload)
    assert response.next_page_token == "" or len(response.plugins) == 100
    for plugin in response.plugins:
        assert plugin.name
        assert plugin.state in (crm.PluginState.LOADED, crm.PluginState.DISABLED, crm.PluginState.FAILED), plugin
        if plugin.state == crm.PluginState.LOADED:
            assert plugin.reason == "", plugin
            assert plugin.version
            assert plugin.load_order >= 1
        else:
            assert plugin.load_order == 0
        if plugin.state == crm.PluginState.FAILED:
            assert plugin.reason, "a FAILED plugin says why"


def test_plugins_list_pagination(conn):
    everything = crm.list_plugins(conn, page_size=1000)
    one_by_one = []
    token = ""
    for _ in range(len(everything) + 1):
        payload = conn.start_call(crm.PLUGINS_LIST, crm.ListPluginsRequest(1, token).encode()).check(IO_TIMEOUT)
        page = crm.ListPluginsResponse.decode(payload)
        assert len(page.plugins) <= 1
        one_by_one.extend(page.plugins)
        token = page.next_page_token
        if not token:
            break
    assert [p.name for p in one_by_one] == [p.name for p in everything]
    # page sizes over 1000 are capped, not refused
    status, message, _ = conn.call(crm.PLUGINS_LIST, crm.ListPluginsRequest(page_size=5000).encode())
    assert status == StatusCode.OK, message


def test_bad_page_token_is_invalid_argument(conn):
    for method, request_type in ((crm.PLUGINS_LIST, crm.ListPluginsRequest),
                                 (crm.REFLECTION_LIST_SERVICES, crm.ListServicesRequest)):
        status, _, payload = conn.call(method, request_type(page_token="not a token we gave you").encode())
        assert status == StatusCode.INVALID_ARGUMENT, method
        assert payload == b""


def test_reflection_lists_the_kernel_services(conn):
    services = crm.list_services(conn)
    names = [s.name for s in services]
    assert names == sorted(names)
    by_name = {s.name: s for s in services}
    for name in KERNEL_SERVICES:
        assert by_name[name].plugin == "kernel"
    methods = {m.full_name: m for m in by_name["crm.kernel.v1.Health"].methods}
    check = methods["/crm.kernel.v1.Health/Check"]
    watch = methods["/crm.kernel.v1.Health/Watch"]
    assert (check.name, check.server_streaming) == ("Check", False)
    assert (watch.name, watch.server_streaming) == ("Watch", True)
    assert check.request_type == "crm.kernel.v1.HealthCheckRequest"
    assert check.response_type == "crm.kernel.v1.HealthCheckResponse"
    paged = crm.list_services(conn, page_size=1)
    assert [s.name for s in paged] == names


def test_reflection_file_descriptor_set(conn):
    response = crm.get_file_descriptor_set(conn, "crm.kernel.v1.Health")
    assert (response.service, response.plugin) == ("crm.kernel.v1.Health", "kernel")
    # google.protobuf.FileDescriptorSet: repeated FileDescriptorProto file = 1; its name = 1
    files = []
    for number, _, value in crm.iter_fields(response.file_descriptor_set):
        assert number == 1
        for n, _, v in crm.iter_fields(value):
            if n == 1:
                files.append(v.decode())
    assert any(f.endswith("crm/kernel/v1/health.proto") for f in files), files
    status, _, _ = conn.call(crm.REFLECTION_GET_FILE_DESCRIPTOR_SET,
                             crm.GetFileDescriptorSetRequest("no.such.v1.Service").encode())
    assert status == StatusCode.NOT_FOUND
