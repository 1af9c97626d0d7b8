/* UPnP-IGD through libminiupnpc, in a thread-pool worker: an SSDP search
 * for an Internet Gateway Device, its external address, then
 * AddPortMapping for UDP. Renewal repeats AddPortMapping on the IGD found
 * (its control URL is kept in the lease); deletion is DeletePortMapping.
 * miniupnpc's calls block (the search for PORTMAP_SSDP_MS, each SOAP
 * call for at most a few seconds); the cancel flag is read between them. */
#include "portmap_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <sodium.h>

#include "node/portmap.h"
#include "transport/error.h"

#define UPNP_DESCRIPTION "knit"
/* UPnP error codes (WANIPConnection:2 spec). */
#define UPNP_CONFLICT 718
#define UPNP_ONLY_PERMANENT 725
/* Other external ports tried after a conflict when AddAnyPortMapping
 * (IGDv2 only) is not there. */
#define UPNP_RANDOM_TRIES 3

static const char *error_text(int r)
{
    const char *s = strupnperror(r);
    return s ? s : "unknown error";
}

static int discover(struct portmap_job *job, struct UPNPUrls *urls,
                    struct IGDdatas *data)
{
    /* One search for the IGD device type: IGDv2 devices answer v1
     * searches, and searching all types at once keeps the wait to one
     * PORTMAP_SSDP_MS. */
    static const char *const types[] = {
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
        "urn:schemas-upnp-org:service:WANIPConnection:1", NULL};
    int error = 0;
    struct UPNPDev *devs = upnpDiscoverDevices(
        types, PORTMAP_SSDP_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2,
        &error, 1);
    if (!devs)
        return portmap_fail(job, KNIT_E_TIMEOUT, "upnp: no IGD answered the "
                            "SSDP search in %d ms", PORTMAP_SSDP_MS);
    char lanaddr[64] = "";
    memset(urls, 0, sizeof *urls);
    int r = UPNP_GetValidIGD(devs, urls, data, lanaddr, sizeof lanaddr);
    freeUPNPDevlist(devs);
    if (r != 1 && r != 2) {
        FreeUPNPUrls(urls);
        return portmap_fail(job, KNIT_E_UNSUPPORTED, "upnp: %s",
                            r == 3 ? "the UPnP devices found are no IGD"
                                   : "no usable IGD description");
    }
    /* r == 2: the IGD says its WAN link is down; its external address
     * (asked next) tells whether that is so. */
    struct portmap_lease *l = &job->lease;
    if (strlen(urls->controlURL) >= sizeof l->control_url ||
        strlen(data->first.servicetype) >= sizeof l->service_type ||
        strlen(lanaddr) >= sizeof l->internal_ip || lanaddr[0] == '\0') {
        FreeUPNPUrls(urls);
        return portmap_fail(job, KNIT_E_UNSUPPORTED, "upnp: IGD control URL "
                            "or local address unusable");
    }
    strcpy(l->control_url, urls->controlURL);
    strcpy(l->service_type, data->first.servicetype);
    strcpy(l->internal_ip, lanaddr);
    FreeUPNPUrls(urls);
    return KNIT_OK;
}

static int external_ip(struct portmap_job *job, struct in_addr *out)
{
    struct portmap_lease *l = &job->lease;
    char text[40] = "";
    int r = UPNP_GetExternalIPAddress(l->control_url, l->service_type, text);
    if (r != UPNPCOMMAND_SUCCESS)
        return portmap_fail(job, KNIT_E_REFUSED, "upnp: GetExternalIPAddress "
                            "at %s: %s", l->control_url, error_text(r));
    if (inet_pton(AF_INET, text, out) != 1 || out->s_addr == 0)
        return portmap_fail(job, KNIT_E_REFUSED, "upnp: IGD at %s reports no "
                            "external IPv4 address ('%s')", l->control_url,
                            text);
    return KNIT_OK;
}

/* AddPortMapping; the UPnP result code (0 = success). */
static int add(struct portmap_job *job, uint16_t ext_port)
{
    struct portmap_lease *l = &job->lease;
    char ext[8], in[8], lease[16];
    snprintf(ext, sizeof ext, "%u", ext_port);
    snprintf(in, sizeof in, "%u", l->internal_port);
    snprintf(lease, sizeof lease, "%u", l->permanent ? 0 : job->lease_s);
    return UPNP_AddPortMapping(l->control_url, l->service_type, ext, in,
                               l->internal_ip, UPNP_DESCRIPTION, "UDP", NULL,
                               lease);
}

/* Another port after a conflict: the IGD's choice (IGDv2), else a few
 * random ones. The port taken, or 0. */
static uint16_t add_elsewhere(struct portmap_job *job)
{
    struct portmap_lease *l = &job->lease;
    char ext[8], in[8], lease[16], reserved[8] = "";
    snprintf(ext, sizeof ext, "%u", l->internal_port);
    snprintf(in, sizeof in, "%u", l->internal_port);
    snprintf(lease, sizeof lease, "%u", l->permanent ? 0 : job->lease_s);
    if (UPNP_AddAnyPortMapping(l->control_url, l->service_type, ext, in,
                               l->internal_ip, UPNP_DESCRIPTION, "UDP", NULL,
                               lease, reserved) == UPNPCOMMAND_SUCCESS) {
        unsigned port = 0;
        if (sscanf(reserved, "%u", &port) == 1 && port > 0 && port <= 65535)
            return (uint16_t)port;
    }
    for (int i = 0; i < UPNP_RANDOM_TRIES && !portmap_cancelled(job); i++) {
        uint16_t port = (uint16_t)(1024 + randombytes_uniform(65536 - 1024));
        if (add(job, port) == UPNPCOMMAND_SUCCESS)
            return port;
    }
    return 0;
}

int portmap_upnp_map(struct portmap_job *job, bool renew)
{
    struct portmap_lease *l = &job->lease;
    if (!renew) {
        memset(l, 0, sizeof *l);
        l->internal_port = job->internal_port;
        struct UPNPUrls urls;
        struct IGDdatas data;
        int err = discover(job, &urls, &data);
        if (err)
            return err;
    }
    if (portmap_cancelled(job))
        return portmap_fail(job, KNIT_E_TIMEOUT, "upnp: cancelled");
    struct in_addr ip;
    int err = external_ip(job, &ip);
    if (err)
        return err;
    uint16_t port = renew ? l->external.port : l->internal_port;
    int r = add(job, port);
    if (r == UPNP_ONLY_PERMANENT && !l->permanent) {
        /* An IGDv1 that takes no lease: map for good, delete on stop. */
        l->permanent = true;
        r = add(job, port);
    }
    if (r == UPNP_CONFLICT && !renew) {
        port = add_elsewhere(job);
        r = port ? UPNPCOMMAND_SUCCESS : UPNP_CONFLICT;
    }
    if (r != UPNPCOMMAND_SUCCESS)
        return portmap_fail(job, KNIT_E_REFUSED, "upnp: AddPortMapping UDP "
                            "%u -> %s:%u at %s: %d %s", port, l->internal_ip,
                            l->internal_port, l->control_url, r,
                            error_text(r));
    knit_addr_set(&l->external, (const uint8_t *)&ip, 4, port);
    l->lifetime_s = job->lease_s;
    l->method = KNIT_PORTMAP_UPNP;
    return KNIT_OK;
}

int portmap_upnp_delete(struct portmap_job *job)
{
    struct portmap_lease *l = &job->lease;
    char ext[8];
    snprintf(ext, sizeof ext, "%u", l->external.port);
    int r = UPNP_DeletePortMapping(l->control_url, l->service_type, ext, "UDP",
                                   NULL);
    if (r != UPNPCOMMAND_SUCCESS)
        return portmap_fail(job, KNIT_E_REFUSED, "upnp: DeletePortMapping UDP "
                            "%s at %s: %d %s", ext, l->control_url, r,
                            error_text(r));
    return KNIT_OK;
}
