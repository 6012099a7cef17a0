-- wrk script for benchmarks/strip_images.py.
-- args (after --): mode ("new" or "known"), paths file (read in "known" mode).
-- "new": every request names a colour pair nobody chose (the anonymous attack);
-- "known": round-robin over the strip URLs of existing programs, each thread at its own offset.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   mode = args[1]
   math.randomseed(os.time() * 100 + id)
   paths = {}
   if mode == "known" then
      for line in io.lines(args[2]) do
         paths[#paths + 1] = line
      end
   end
   position = ((id - 1) * 97) % math.max(#paths, 1)
end

function request()
   if mode == "new" then
      local bg = string.format("%06x", math.random(0, 16777215))
      local stamp = string.format("%06x", math.random(0, 16777215))
      return wrk.format("GET", "/img/strip/" .. bg .. "/" .. stamp .. "/10/4@2x.png")
   end
   position = position % #paths + 1
   return wrk.format("GET", paths[position])
end
