-- wrk script for benchmarks/stamp_api.py.
-- args (after --): mode ("stamps" or "ceiling"), serials file, API key, run nonce.
-- Every request carries a unique Idempotency-Key (nonce-thread-counter) so none is a retry;
-- stamps go round-robin over the serials, each thread starting at its own offset.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   mode, nonce = args[1], args[4]
   serials = {}
   for line in io.lines(args[2]) do
      serials[#serials + 1] = line
   end
   headers = {
      ["Authorization"] = "Bearer " .. args[3],
      ["Content-Type"] = "application/json",
   }
   body = '{"count": 1}'
   counter = 0
   position = ((id - 1) * 97) % #serials
end

function request()
   counter = counter + 1
   position = position % #serials + 1
   headers["Idempotency-Key"] = nonce .. "-" .. id .. "-" .. counter
   local path = "/bench/ceiling"
   if mode == "stamps" then
      path = "/api/v1/cards/" .. serials[position] .. "/stamps"
   end
   return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
   local issued = 0
   for _, thread in ipairs(threads) do
      issued = issued + thread:get("counter")
   end
   io.write(string.format("ISSUED %d\n", issued))
end
