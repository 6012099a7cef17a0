-- wrk script for benchmarks/staff_stamps.py: stamps from the staff page of a signed-in browser.
-- args (after --): shop slug, serials file, Cookie header, CSRF token, run nonce.
-- Every request carries a unique Idempotency-Key; stamps go round-robin over the serials.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   slug, nonce = args[1], args[5]
   serials = {}
   for line in io.lines(args[2]) do
      serials[#serials + 1] = line
   end
   headers = {
      ["Cookie"] = args[3],
      ["X-CSRF-Token"] = args[4],
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
   local path = "/staff/" .. slug .. "/cards/" .. serials[position] .. "/stamps"
   return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
   local issued = 0
   for _, thread in ipairs(threads) do
      issued = issued + thread:get("counter")
   end
   io.write(string.format("ISSUED %d\n", issued))
end
