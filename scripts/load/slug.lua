-- wrk script: GET a random one of the 100k seeded public entries.
math.randomseed(42)
request = function()
  return wrk.format("GET", "/api/public/articles/entry-" .. math.random(0, 99999))
end
