"""Drop-in compatibility with Tencent Cloud TMS and Alibaba Cloud Green text moderation.

A portal that calls either vendor through its official SDK switches to this service by
changing only the endpoint (and protocol) of its client: `dispatch.CompatDispatch` takes
`/` requests that carry `X-TC-Action` (Tencent) or `x-acs-action` (Aliyun), checks the
vendor's signature (`tc3`, `acs3`, `rpc_v1`) against the credential's secret key, stores
the call as an item like `/v1/moderate` (`items`), and answers in the vendor's own form
(`tencent`, `aliyun`, with the label tables of `labels`).
"""
